// Reads the proxy config (SPEC §3): YAML → ${VAR} substitution → schema → frozen ProxyConfig.
// Every problem is collected and reported as `path: message`, so an operator fixes them in one go.
// Relative file paths (credentials, token, TLS and CA files, idempotency.redis.caFile) are resolved from the config file's folder,
// not from the working directory.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { configSchema, type ParsedConfig } from './schema.js';
import { ProblemsError, formatIssues, readProblem, showValue, substituteEnv, yamlProblems } from './problems.js';
import { topologyProblems } from './redis-topology.js';

export interface ProxyConfig extends ParsedConfig {
  /** absolute path of the config file */
  readonly configFile: string;
  readonly credentials: ParsedConfig['credentials'] & { readonly file?: string };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof URL) && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Validates an already-parsed document; `file` only anchors relative paths and messages. */
export function buildConfig(raw: unknown, file: string, env: NodeJS.ProcessEnv = process.env): ProxyConfig {
  const problems: string[] = [];
  const substituted = substituteEnv(raw ?? {}, env, [], problems);
  const result = configSchema.safeParse(substituted, { reportInput: true });
  // A value emptied by an unset variable is already reported; its follow-on schema error is noise.
  if (!result.success) problems.push(...formatIssues(result.error.issues).filter((p) => !problems.some((q) => p.startsWith(q.slice(0, q.indexOf(': ') + 2)))));
  // Checked on the input: zod skips object refinements once any field in them fails.
  const creds = (substituted as { credentials?: { file?: unknown; url?: unknown } }).credentials;
  if (creds?.file !== undefined && creds.url !== undefined) problems.push('credentials: set either file or url, not both');
  problems.push(...topologyProblems((substituted as { idempotency?: { redis?: unknown } }).idempotency?.redis));
  if (result.success && result.data.upstream.caFile !== undefined && result.data.upstream.url.protocol !== 'https:') {
    problems.push(`upstream.caFile: only used with an https:// upstream.url, not ${showValue(result.data.upstream.url.href)}`);
  }
  if (problems.length > 0 || !result.success) throw new ProblemsError('config', file, problems);
  const dir = path.dirname(file);
  const c = result.data;
  const resolve = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(dir, p));
  const credentials = {
    ...c.credentials,
    file: c.credentials.url ? undefined : resolve(c.credentials.file ?? 'credentials.yaml'),
    tokenFile: resolve(c.credentials.tokenFile),
  };
  const admin = { ...c.admin, tokenFile: resolve(c.admin.tokenFile) };
  const upstream = { ...c.upstream, caFile: resolve(c.upstream.caFile) };
  const tls = c.tls && { ...c.tls, certFile: path.resolve(dir, c.tls.certFile), keyFile: path.resolve(dir, c.tls.keyFile) };
  const { redis } = c.idempotency;
  const idempotency = redis.caFile === undefined ? c.idempotency : { ...c.idempotency, redis: { ...redis, caFile: resolve(redis.caFile) } };
  return deepFreeze({ ...c, admin, upstream, tls, credentials, idempotency, configFile: file });
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): ProxyConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ProblemsError('config', abs, [readProblem(abs, err)]);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  const syntax = yamlProblems(doc);
  if (syntax.length > 0) throw new ProblemsError('config', abs, syntax);
  return buildConfig(doc.toJS(), abs, env);
}

/** `--config`, then $CUSTODY_PROXY_CONFIG, then config/custody-proxy.yaml (SPEC §2). */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env['CUSTODY_PROXY_CONFIG'] ?? 'config/custody-proxy.yaml';
}
