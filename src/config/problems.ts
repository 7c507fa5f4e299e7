// Problem reporting shared by the config and the credentials document: zod issues and YAML errors
// become `path: message` lines, and ${VAR} references are replaced (an unset variable is a problem).
// ProblemsError is the one error both raise: the document (file or URL) and every problem in it.
import type { Document } from 'yaml';
import { yamlErrorMessage } from './yaml-positions.js';
import type { z } from 'zod';

type PathPart = string | number | symbol;

/** A document that cannot be used: which one (`config` or `credentials`, and its file or URL) and every problem. */
export class ProblemsError extends Error {
  override readonly name = 'ProblemsError';
  constructor(
    readonly kind: 'config' | 'credentials',
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid ${kind} ${source}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/** The problem of a file that cannot be read, e.g. `(file): cannot read "/etc/x.yaml": ENOENT`. */
export function readProblem(file: string, err: unknown, at = '(file)'): string {
  return `${at}: cannot read ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? 'read error'}`;
}

/** A value as it appears in a problem message. */
export const showValue = (v: unknown): string => JSON.stringify(v) ?? String(v);

export function formatPath(parts: readonly PathPart[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(root)' : out;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(`${formatPath([...issue.path, key])}: unknown key`);
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      out.push(`${formatPath(issue.path)}: required`);
    } else {
      out.push(`${formatPath(issue.path)}: ${issue.message}${describeInput(issue)}`);
    }
  }
  return out;
}

// A bad config names the value as well as the path, except for values that came from custom checks
// (their messages already quote it), for whole objects, and for secrets: a near-miss hash is still a
// hash, a Redis password is a password and a Redis URL may hold one, and problems reach logs and the
// admin API's reload answer.
const SECRET_FIELDS = new Set<PathPart>(['secretHash', 'password', 'sentinelPassword']);
const isSecret = (at: readonly PathPart[]): boolean =>
  SECRET_FIELDS.has(at.at(-1) ?? '') || (at.at(-1) === 'url' && at.at(-2) === 'redis');

function describeInput(issue: z.core.$ZodIssue): string {
  if (issue.code === 'custom' || !('input' in issue) || isSecret(issue.path)) return '';
  const input: unknown = issue.input;
  if (input === null || ['string', 'number', 'boolean'].includes(typeof input)) return ` (got ${JSON.stringify(input)})`;
  return '';
}

export function yamlProblems(doc: Document): string[] {
  return doc.errors.map((e) => {
    const line = e.linePos?.[0];
    return `(yaml)${line ? ` line ${line.line} column ${line.col}` : ''}: ${yamlErrorMessage(e)}`;
  });
}

export const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces ${VAR} in every string value (never in keys); unset variables are reported by path. */
export function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  at: readonly PathPart[],
  problems: string[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(VAR, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) {
        problems.push(`${formatPath(at)}: environment variable ${name} is not set`);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...at, i], problems));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, [...at, k], problems);
    return out;
  }
  return value;
}
