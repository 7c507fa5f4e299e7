// The listener's certificate and key (SPEC §3 rev 2 `tls`): read both PEM files, parse the certificate,
// and prove the pair with tls.createSecureContext, which refuses a key that does not match the
// certificate. One judgement for `check`, the start of `serve` and every reload: a pair that is
// unreadable, does not parse, does not match, or whose certificate has expired is not used. Problems
// name the config key and the file; never a byte of the key.
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { readProblem } from '../config/problems.js';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
}

/** What is logged and exported about a certificate: never key material. */
export interface CertificateInfo {
  readonly subject: string;
  readonly serialNumber: string;
  /** ms since the epoch */
  readonly notAfter: number;
}

export interface PemPair {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly info: CertificateInfo;
}

export type PairResult = { readonly ok: true; readonly pair: PemPair } | { readonly ok: false; readonly problem: string };

export type ReadResult = { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly problem: string };

/** The file's bytes, or a problem naming the config `key` and the file (a TLS or CA file serve reads). */
export function readConfigured(file: string, key: string): ReadResult {
  try {
    return { ok: true, bytes: readFileSync(file) };
  } catch (err) {
    return { ok: false, problem: readProblem(file, err, key) };
  }
}

/** The first certificate of the file (the leaf; intermediates may follow it and are served as the chain). */
function certificateInfo(cert: Buffer): CertificateInfo | undefined {
  try {
    const x = new X509Certificate(cert);
    return { subject: x.subject.replaceAll('\n', ', '), serialNumber: x.serialNumber, notAfter: Date.parse(x.validTo) };
  } catch {
    return undefined;
  }
}

/** Why OpenSSL refused the pair, with the key's part of the blame named; its message holds no key bytes. */
function contextProblem(files: TlsFiles, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH') return `tls.keyFile: the key in ${JSON.stringify(files.keyFile)} does not match the certificate in ${JSON.stringify(files.certFile)}`;
  return `tls.keyFile: ${JSON.stringify(files.keyFile)} is not a usable unencrypted PEM private key (${code})`;
}

/** Reads and proves the pair now; `now` judges expiry. */
export function loadPemPair(files: TlsFiles, now: number = Date.now()): PairResult {
  const cert = readConfigured(files.certFile, 'tls.certFile');
  if (!cert.ok) return cert;
  const key = readConfigured(files.keyFile, 'tls.keyFile');
  if (!key.ok) return key;
  const info = certificateInfo(cert.bytes);
  if (!info) return { ok: false, problem: `tls.certFile: ${JSON.stringify(files.certFile)} holds no PEM certificate` };
  try {
    tls.createSecureContext({ cert: cert.bytes, key: key.bytes, minVersion: files.minVersion });
  } catch (err) {
    return { ok: false, problem: contextProblem(files, err) };
  }
  // notBefore is not judged: a certificate issued a moment ago on a node whose clock runs behind would
  // be refused, and a refused renewal is retried only at the next file change.
  if (info.notAfter <= now) {
    return { ok: false, problem: `tls.certFile: the certificate in ${JSON.stringify(files.certFile)} expired ${new Date(info.notAfter).toISOString()}` };
  }
  return { ok: true, pair: { cert: cert.bytes, key: key.bytes, info } };
}

/** The options a listener (or setSecureContext) takes for this pair. */
export function secureOptions(pair: PemPair, minVersion: TlsFiles['minVersion']): tls.SecureContextOptions {
  return { cert: pair.cert, key: pair.key, minVersion };
}

/** The log fields of a certificate. */
export function describe(info: CertificateInfo): Record<string, string> {
  return { subject: info.subject, serialNumber: info.serialNumber, notAfter: new Date(info.notAfter).toISOString() };
}
