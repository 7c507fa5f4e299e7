// The CA bundles the proxy verifies servers with: `upstream.caFile` (SPEC §3 rev 2) for an https://
// upstream and `idempotency.redis.caFile` for Redis over TLS. A bundle REPLACES the system roots (Node's
// `ca` option does): a private CA's server needs nothing else, and a public CA could not then vouch
// for a look-alike. Read once at start; a new CA needs a restart.
import { X509Certificate } from 'node:crypto';
import { ProblemsError } from '../config/problems.js';
import { readConfigured } from './pem-pair.js';

export type CaResult = { readonly ok: true; readonly ca: Buffer } | { readonly ok: false; readonly problem: string };

/** The PEM bundle at `file`, or a problem naming the config path `at` (e.g. `upstream.caFile`). */
export function readCaFile(file: string, at: string): CaResult {
  const read = readConfigured(file, at);
  if (!read.ok) return read;
  try {
    // Parses the first certificate only: enough to tell a PEM bundle from a key or a DER file.
    new X509Certificate(read.bytes);
  } catch {
    return { ok: false, problem: `${at}: ${JSON.stringify(file)} holds no PEM certificate` };
  }
  return { ok: true, ca: read.bytes };
}

export const readUpstreamCa = (file: string): CaResult => readCaFile(file, 'upstream.caFile');

/** For serve: the CA bytes, none without a file, or a ProblemsError that stops the start. */
export function caAtStart(file: string | undefined, at: string, configFile: string): Buffer | undefined {
  if (file === undefined) return undefined;
  const r = readCaFile(file, at);
  if (!r.ok) throw new ProblemsError('config', configFile, [r.problem]);
  return r.ca;
}

export const upstreamCaAtStart = (file: string | undefined, configFile: string): Buffer | undefined =>
  caAtStart(file, 'upstream.caFile', configFile);
