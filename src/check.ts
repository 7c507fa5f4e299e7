// `custody-proxy check` (SPEC §2 rev 2): everything `serve` needs before it serves, checked offline.
// The config; the credentials document it names (a control endpoint is not fetched); the token files
// serve reads (admin.tokenFile, and credentials.tokenFile with a control endpoint), readable and
// non-empty; the TLS files (the listener's pair proven as serve proves it, upstream.caFile and
// idempotency.redis.caFile parsed). Each problem keeps SPEC's `path: message` and names its file and,
// for YAML, line:column.
// Warnings (things serve accepts but an operator should know: a stray token file, keys expiring or due
// for rotation) are a separate list and never make the check fail.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildConfig, type ProxyConfig } from './config/load.js';
import { ProblemsError, readProblem } from './config/problems.js';
import { readTokenFile } from './config/token-file.js';
import { parseWithPositions, positionOf, yamlErrorMessage, type Position, type YamlText } from './config/yaml-positions.js';
import { parseCredentials } from './credentials/document-load.js';
import { judgedKeys, lifecycleWarnings } from './credentials/lifecycle-warnings.js';
import type { CredentialsSnapshot } from './credentials/snapshot.js';
import { loadPemPair } from './tls/pem-pair.js';
import { readCaFile, readUpstreamCa } from './tls/upstream-ca.js';
import { REDIS_CA_PATH } from './idempotency/redis-ca.js';

// A renewal that has not happened this close to expiry is probably failing (cert-manager renews a
// 90-day certificate 30 days ahead); a warning, as serve still serves it.
const CERTIFICATE_EXPIRY_WARNING_MS = 7 * 24 * 3600 * 1000;

/** One problem or warning: `path: message`, the file it is about, and where in that file. */
export interface Finding {
  readonly text: string;
  readonly file: string;
  readonly at?: Position | undefined;
}

export interface CheckReport {
  readonly problems: readonly Finding[];
  readonly warnings: readonly Finding[];
  /** what was checked, for the ok line */
  readonly summary: string;
}

/** `path: message (at FILE:LINE:COL)`; the position is left out where there is none. */
export function formatFinding(f: Finding): string {
  return `${f.text} (at ${f.file}${f.at ? `:${f.at.line}:${f.at.col}` : ''})`;
}

type Parsed = { readonly ok: true; readonly text: string; readonly source: YamlText } | { readonly ok: false; readonly problems: Finding[] };

/** Reads and parses a YAML file; a read failure is reported against `readAt` (a config key) when given. */
function readYaml(file: string, readAt?: { key: string; in: Finding['file']; source: YamlText }): Parsed {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (!readAt) return { ok: false, problems: [{ text: readProblem(file, err), file }] };
    const problem = readProblem(file, err, readAt.key);
    return { ok: false, problems: [{ text: problem, file: readAt.in, at: positionOf(readAt.source, problem) }] };
  }
  const source = parseWithPositions(text);
  if (source.doc.errors.length === 0) return { ok: true, text, source };
  const problems = source.doc.errors.map((e) => ({ text: `(yaml): ${yamlErrorMessage(e)}`, file, at: e.linePos?.[0] }));
  return { ok: false, problems };
}

const located = (problems: readonly string[], file: string, source: YamlText): Finding[] =>
  problems.map((text) => ({ text, file, at: positionOf(source, text) }));

function checkConfig(file: string, env: NodeJS.ProcessEnv): { config?: ProxyConfig; source?: YamlText; problems: Finding[] } {
  const read = readYaml(file);
  if (!read.ok) return { problems: read.problems };
  try {
    return { config: buildConfig(read.source.doc.toJS(), file, env), source: read.source, problems: [] };
  } catch (err) {
    if (!(err instanceof ProblemsError)) throw err;
    return { problems: located(err.problems, file, read.source) };
  }
}

/** The token files serve reads at start: readable and non-empty, or it refuses to start. */
function tokenFindings(config: ProxyConfig, source: YamlText): { problems: Finding[]; warnings: Finding[] } {
  const problems: Finding[] = [];
  const warnings: Finding[] = [];
  const at = (text: string): Finding => ({ text, file: config.configFile, at: positionOf(source, text) });
  const check = (key: string, file: string | undefined): void => {
    try {
      readTokenFile(file);
    } catch (err) {
      problems.push(at(`${key}: ${(err as Error).message}`));
    }
  };
  check('admin.tokenFile', config.admin.tokenFile);
  if (config.credentials.url) check('credentials.tokenFile', config.credentials.tokenFile);
  else if (config.credentials.tokenFile !== undefined) {
    warnings.push(at('credentials.tokenFile: only used with credentials.url; serve does not read it with credentials.file'));
  }
  return { problems, warnings };
}

/** The TLS files serve reads at start: the listener's pair (readable, PEM, matching, not expired) and the upstream CA. */
function tlsFindings(config: ProxyConfig, source: YamlText): { problems: Finding[]; warnings: Finding[] } {
  const at = (text: string): Finding => ({ text, file: config.configFile, at: positionOf(source, text) });
  const problems: Finding[] = [];
  const warnings: Finding[] = [];
  const now = Date.now();
  if (config.tls) {
    const r = loadPemPair(config.tls, now);
    if (!r.ok) problems.push(at(r.problem));
    else if (r.pair.info.notAfter - now < CERTIFICATE_EXPIRY_WARNING_MS) {
      warnings.push(at(`tls.certFile: the certificate in ${JSON.stringify(config.tls.certFile)} expires ${new Date(r.pair.info.notAfter).toISOString()}, within 7 days`));
    }
  }
  if (config.upstream.caFile !== undefined) {
    const r = readUpstreamCa(config.upstream.caFile);
    if (!r.ok) problems.push(at(r.problem));
  }
  const redisCa = config.idempotency.redis.caFile;
  if (redisCa !== undefined) {
    const r = readCaFile(redisCa, REDIS_CA_PATH);
    if (!r.ok) problems.push(at(r.problem));
  }
  return { problems, warnings };
}

/** SPEC §8 rev 2: the keys serve would warn about at load, as `credentials[i].field: message`. */
function lifecycleFindings(snapshot: CredentialsSnapshot, config: ProxyConfig, file: string, source: YamlText): Finding[] {
  const { expiryWarning, maxAge } = config.credentials;
  const texts = lifecycleWarnings(judgedKeys(snapshot.byKeyId.values()), { expiryWarning, maxAge }, Date.now()).map((w) => {
    const date = new Date(w.at).toISOString();
    return w.kind === 'expiring'
      ? `credentials[${w.index}].expiresAt: key ${w.keyId} (tenant ${w.tenant}) expires ${date}, within credentials.expiryWarning`
      : `credentials[${w.index}].createdAt: key ${w.keyId} (tenant ${w.tenant}) was created ${date}, more than credentials.maxAge ago: due for rotation`;
  });
  return located(texts, file, source);
}

function checkCredentials(config: ProxyConfig, configSource: YamlText): { problems: Finding[]; warnings: Finding[]; summary: string } {
  const file = config.credentials.file;
  if (!file) return { problems: [], warnings: [], summary: `credentials from ${config.credentials.url?.origin ?? 'control endpoint'}, not fetched` };
  const read = readYaml(file, { key: 'credentials.file', in: config.configFile, source: configSource });
  if (!read.ok) return { problems: read.problems, warnings: [], summary: '' };
  const result = parseCredentials(read.text);
  if (!result.ok) return { problems: located(result.problems, file, read.source), warnings: [], summary: '' };
  const { tenants, byKeyId } = result.snapshot;
  const warnings = lifecycleFindings(result.snapshot, config, file, read.source);
  return { problems: [], warnings, summary: `${tenants.size} tenants, ${byKeyId.size} credentials` };
}

/** Checks the config at `configFile` and everything it names. */
export function runCheck(configFile: string, env: NodeJS.ProcessEnv = process.env): CheckReport {
  const { config, source, problems } = checkConfig(path.resolve(configFile), env);
  // Without a valid config there is no telling which other files serve would read.
  if (!config || !source) return { problems, warnings: [], summary: '' };
  const tokens = tokenFindings(config, source);
  const tls = tlsFindings(config, source);
  const credentials = checkCredentials(config, source);
  const warnings = [...tokens.warnings, ...tls.warnings, ...credentials.warnings];
  return { problems: [...tokens.problems, ...tls.problems, ...credentials.problems], warnings, summary: credentials.summary };
}
