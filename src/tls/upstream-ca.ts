// `upstream.caFile` (SPEC §3 rev 2): the CA bundle an https:// upstream's certificate must chain to.
// It REPLACES the system roots (Node's `ca` option does): a private CA's upstream needs nothing else,
// and a public CA could not then vouch for a look-alike. Read once at start; a new CA needs a restart.
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { ProblemsError, readProblem } from '../config/problems.js';

export type CaResult = { readonly ok: true; readonly ca: Buffer } | { readonly ok: false; readonly problem: string };

export function readUpstreamCa(file: string): CaResult {
  let ca: Buffer;
  try {
    ca = readFileSync(file);
  } catch (err) {
    return { ok: false, problem: readProblem(file, err, 'upstream.caFile') };
  }
  try {
    // Parses the first certificate only: enough to tell a PEM bundle from a key or a DER file.
    new X509Certificate(ca);
  } catch {
    return { ok: false, problem: `upstream.caFile: ${JSON.stringify(file)} holds no PEM certificate` };
  }
  return { ok: true, ca };
}

/** For serve: the CA bytes, none without caFile, or a ProblemsError that stops the start. */
export function upstreamCaAtStart(file: string | undefined, configFile: string): Buffer | undefined {
  if (file === undefined) return undefined;
  const r = readUpstreamCa(file);
  if (!r.ok) throw new ProblemsError('config', configFile, [r.problem]);
  return r.ca;
}
