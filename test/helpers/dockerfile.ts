// Reads the project's Dockerfile and .dockerignore the way `docker build` does, for the tests that
// check its text and build its runtime tree: stages split at FROM, continuation lines joined,
// comments dropped; exec-form JSON, ENV pairs, COPY flags and .dockerignore matching. Only the
// syntax this Dockerfile uses is understood; anything else is an error naming the line.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** 1-based line where the instruction starts */
  readonly line: number;
}

export interface Stage {
  readonly name: string;
  readonly base: string;
  readonly instructions: Instruction[];
}

export interface Copy {
  readonly from: string | undefined;
  readonly sources: string[];
  readonly dest: string;
}

/** Logical instructions: `\` continuations joined, comment lines (also inside a continuation) dropped. */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { parts: string[]; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && pending === undefined)) return;
    const continued = trimmed.endsWith('\\');
    const part = continued ? trimmed.slice(0, -1).trim() : trimmed;
    pending ??= { parts: [], line: i + 1 };
    pending.parts.push(part);
    if (continued) return;
    const joined = pending.parts.filter((p) => p !== '').join(' ');
    const m = /^(\S+)\s*(.*)$/.exec(joined);
    if (m) out.push({ keyword: (m[1] ?? '').toUpperCase(), args: m[2] ?? '', line: pending.line });
    pending = undefined;
  });
  return out;
}

/** The stages in order; instructions before the first FROM (global ARGs) belong to none. */
export function stages(text: string): Stage[] {
  const out: Array<{ name: string; base: string; instructions: Instruction[] }> = [];
  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`Dockerfile line ${ins.line}: FROM ${ins.args}: expected IMAGE [AS NAME]`);
      out.push({ base: m[1] ?? '', name: m[2] ?? String(out.length), instructions: [] });
    } else {
      out.at(-1)?.instructions.push(ins);
    }
  }
  return out;
}

/** ENTRYPOINT/CMD in exec form (a JSON array of strings); the shell form is refused. */
export function execForm(ins: Instruction): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(ins.args);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
    throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} ${ins.args}: expected the exec form, a JSON array of strings`);
  }
  return parsed;
}

/** `ENV A=1 B="two"` or `LABEL a.b="x y"`: the pairs (the legacy `ENV A 1` form is refused). */
export function keyValuePairs(ins: Instruction): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of ins.args.matchAll(/(\S+?)=("[^"]*"|\S*)/g)) out[m[1] ?? ''] = (m[2] ?? '').replace(/^"(.*)"$/, '$1');
  if (Object.keys(out).length === 0) throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} ${ins.args}: expected NAME=VALUE pairs`);
  return out;
}

/** `COPY [--from=STAGE] SRC... DEST`; any other flag (--chown, --chmod, --link) is refused. */
export function copyArgs(ins: Instruction): Copy {
  const words = ins.args.split(/\s+/).filter((w) => w !== '');
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift() ?? '';
    const m = /^--from=(\S+)$/.exec(flag);
    if (!m) throw new Error(`Dockerfile line ${ins.line}: COPY flag ${flag} is not understood by test/helpers/dockerfile.ts`);
    from = m[1];
  }
  const dest = words.pop();
  if (dest === undefined || words.length === 0) throw new Error(`Dockerfile line ${ins.line}: COPY ${ins.args}: expected SRC... DEST`);
  return { from, sources: words, dest };
}

/** .dockerignore as a predicate over context-relative paths ('src/app.ts'). */
export function dockerignore(root: string): (relative: string) => boolean {
  let text = '';
  try {
    text = readFileSync(path.join(root, '.dockerignore'), 'utf8');
  } catch {
    return () => false;
  }
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ negated: l.startsWith('!'), re: globToRegExp(path.posix.normalize(l.replace(/^!/, ''))) }));
  return (relative) => {
    // Docker: a pattern matches a path or any of its parent folders; the last matching rule wins.
    const prefixes = relative.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) if (prefixes.some((p) => rule.re.test(p))) excluded = !rule.negated;
    return excluded;
  };
}

function globToRegExp(pattern: string): RegExp {
  if (pattern.includes('**') || /[[\]?]/.test(pattern)) throw new Error(`.dockerignore: pattern ${pattern} is not understood by test/helpers/dockerfile.ts`);
  const body = pattern.split('*').map((s) => s.replace(/[.+^${}()|\\]/g, '\\$&')).join('[^/]*');
  return new RegExp(`^${body}$`);
}
