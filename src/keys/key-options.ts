// The values of `keys create --expires` and `--permission` (SPEC §2 rev 2), checked before the file is
// touched: a bad value is a usage error (exit 2) naming the flag. Permissions are validated by the
// credentials document's own rule schema, so the CLI accepts exactly what a hand-written file may hold.
import { parseDuration } from '../config/units.js';
import { parseIsoTime, permissionRuleSchema } from '../credentials/document-schema.js';
import { UsageError } from '../command-line.js';

/** RFC 3339 in UTC to the second, as every date the CLI writes (`2026-09-01T00:00:00Z`). */
export const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * `--expires 90d` (from now) or `--expires 2027-06-01` / `2027-06-01T12:00:00Z` (a date alone is its
 * midnight UTC, as the document reads it). A moment already past is refused: the key would be born dead.
 */
export function parseExpires(text: string, now: number): number {
  const ms = parseDuration(text);
  const at = ms !== undefined ? now + ms : parseIsoTime(text);
  if (!Number.isFinite(at)) {
    throw new UsageError(`--expires must be a duration like 90d or 12h, or a date like 2027-06-01 or 2027-06-01T00:00:00Z, not ${JSON.stringify(text)}`);
  }
  if (at <= now) throw new UsageError(`--expires ${JSON.stringify(text)} is not in the future`);
  return at;
}

export interface PermissionRule {
  readonly methods: string[];
  readonly paths: string[];
}

/**
 * `--permission 'GET,HEAD /v1/vaults /v1/vaults/**'`: comma-separated methods, then one or more paths
 * (separated by spaces or commas), the same rule as a `permissions:` entry of the document.
 */
export function parsePermission(text: string): PermissionRule {
  const [methods = '', ...rest] = text.trim().split(/\s+/);
  const paths = rest.flatMap((p) => p.split(',')).filter((p) => p !== '');
  const shown = JSON.stringify(text);
  if (methods === '' || paths.length === 0) throw new UsageError(`--permission ${shown} must be 'METHODS PATHS', e.g. 'GET,HEAD /v1/vaults/**'`);
  const rule = { methods: methods.split(','), paths };
  const result = permissionRuleSchema.safeParse(rule);
  if (!result.success) {
    const issue = result.error.issues[0];
    // a path's message names the pattern already; a method's does not
    const method = issue?.path[0] === 'methods' ? `method ${JSON.stringify(rule.methods[Number(issue.path[1])])} ` : '';
    throw new UsageError(`--permission ${shown}: ${method}${issue?.message ?? 'invalid'}`);
  }
  return rule;
}
