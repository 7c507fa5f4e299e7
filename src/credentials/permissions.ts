// Per-credential permissions (SPEC §6): method + path rules, compiled once per document. In a path
// pattern `*` is exactly one non-empty segment and `**` (last only) is one or more further segments;
// `/v1/vaults` does not match `/v1/vaults/*`, list both when both are meant (the spec's own example).

export const PATH_PATTERN_PROBLEM = 'must start with "/"; "*" and "**" must be whole segments, "**" last';

export function pathPatternProblem(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return PATH_PATTERN_PROBLEM;
  const segs = pattern.slice(1).split('/');
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i] ?? '';
    if (s === '**' && i !== segs.length - 1) return PATH_PATTERN_PROBLEM;
    if (s !== '*' && s !== '**' && s.includes('*')) return PATH_PATTERN_PROBLEM;
  }
  return undefined;
}

interface CompiledPattern {
  readonly segments: readonly string[];
  /** true when the last segment was `**` (dropped from segments) */
  readonly rest: boolean;
}

export interface CompiledRule {
  /** undefined = every method (`*`) */
  readonly methods: ReadonlySet<string> | undefined;
  readonly patterns: readonly CompiledPattern[];
}

export function compileRule(rule: { methods: readonly string[]; paths: readonly string[] }): CompiledRule {
  const methods = rule.methods.includes('*') ? undefined : new Set(rule.methods);
  const patterns = rule.paths.map((p) => {
    const segments = p.slice(1).split('/');
    const rest = segments[segments.length - 1] === '**';
    return { segments: rest ? segments.slice(0, -1) : segments, rest };
  });
  return { methods, patterns };
}

function matchPattern(p: CompiledPattern, segs: readonly string[]): boolean {
  if (p.rest ? segs.length <= p.segments.length : segs.length !== p.segments.length) return false;
  for (let i = 0; i < p.segments.length; i++) {
    const want = p.segments[i];
    const got = segs[i] ?? '';
    if (want === '*' ? got === '' : want !== got) return false;
  }
  return true;
}

/** `path` is the canonical path without the query. */
export function permits(rules: readonly CompiledRule[], method: string, path: string): boolean {
  const segs = path.slice(1).split('/');
  for (const rule of rules) {
    if (rule.methods && !rule.methods.has(method)) continue;
    for (const p of rule.patterns) if (matchPattern(p, segs)) return true;
  }
  return false;
}
