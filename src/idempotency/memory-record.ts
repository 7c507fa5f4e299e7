// A completed idempotency record of the memory store, packed into bytes (held in a RecordArena slab):
// the store may hold 100 000 of them for hours, and as objects each was about ten long-lived heap
// objects for the garbage collector to copy and mark. Bytes are also the copy that keeps a stored record
// safe from the caller's Buffer, and their length is what the store's byte bound counts (with a fixed
// overhead, see record-cost.ts), so the encoding is kept short: 1-byte lengths for short strings, the
// body's SHA-256 as 32 raw bytes, one byte for a common header name.
//
// Layout from `at` (integers little-endian): u8 kind (+4 when the body hash is kept as text) ·
// f64 expiresAt · u16 status · u8 code · str method · str target · 32 bytes bodySha256 (or str) ·
// u16 header count · (name · str value)* · body bytes up to the record's end. str is a length and UTF-8
// bytes (lossless for the latin1 strings Node hands us): one byte below 0x80, else four bytes with the top
// two bits set; a name is a str, or one byte 0x80 + i for COMMON_NAMES[i].
import type { Completion, Fingerprint } from './store.js';

const KINDS = ['response', 'response_unavailable', 'outcome_unknown'] as const;
const CODES = ['', 'UPSTREAM_TIMEOUT', 'UPSTREAM_OUTCOME_UNKNOWN'] as const;
const HASH_AS_TEXT = 4;
const FIXED = 1 + 8 + 2 + 1;
const LONG = 0xc0000000;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const HEX = '0123456789abcdef';

// At most 64 (one byte 0x80–0xbf each); lowercase, as StoredResponse headers are.
const COMMON_NAMES = [
  'content-type', 'content-encoding', 'content-language', 'content-location', 'content-disposition',
  'cache-control', 'etag', 'last-modified', 'expires', 'location', 'vary', 'retry-after', 'link', 'age',
  'pragma', 'server', 'x-powered-by', 'accept-ranges', 'strict-transport-security', 'x-content-type-options',
  'x-frame-options', 'referrer-policy', 'content-security-policy', 'access-control-allow-origin',
  'access-control-allow-credentials', 'access-control-expose-headers', 'x-ratelimit-limit',
  'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-upstream-request-id', 'x-correlation-id', 'traceparent',
] as const;
const NAME_CODE = new Map<string, number>(COMMON_NAMES.map((name, i) => [name, i]));

const strSize = (s: string): number => {
  const n = Buffer.byteLength(s);
  return (n < 0x80 ? 1 : 4) + n;
};

/** Bytes the record takes (what writeRecord writes). */
export function encodedLength(fingerprint: Fingerprint, completion: Completion): number {
  const { method, target, bodySha256 } = fingerprint;
  let size = FIXED + strSize(method) + strSize(target) + (SHA256_HEX.test(bodySha256) ? 32 : strSize(bodySha256)) + 2;
  if (completion.kind !== 'response') return size;
  for (const [name, value] of completion.response.headers) size += (NAME_CODE.has(name) ? 1 : strSize(name)) + strSize(value);
  return size + completion.response.body.length;
}

/** Writes the record at `at`; `buf` must hold encodedLength() bytes from there. */
export function writeRecord(buf: Buffer, at: number, fingerprint: Fingerprint, expiresAt: number, completion: Completion): void {
  const response = completion.kind === 'response' ? completion.response : undefined;
  const hashAsText = !SHA256_HEX.test(fingerprint.bodySha256);
  buf[at] = KINDS.indexOf(completion.kind) + (hashAsText ? HASH_AS_TEXT : 0);
  buf.writeDoubleLE(expiresAt, at + 1);
  buf.writeUInt16LE(response ? response.status : 0, at + 9);
  buf[at + 11] = completion.kind === 'outcome_unknown' ? CODES.indexOf(completion.code) : 0;
  let p = writeString(buf, at + FIXED, fingerprint.method);
  p = writeString(buf, p, fingerprint.target);
  p = hashAsText ? writeString(buf, p, fingerprint.bodySha256) : p + buf.write(fingerprint.bodySha256, p, 'hex');
  p = buf.writeUInt16LE(response ? response.headers.length : 0, p);
  if (!response) return;
  for (const [name, value] of response.headers) {
    const code = NAME_CODE.get(name);
    if (code === undefined) p = writeString(buf, p, name);
    else buf[p++] = 0x80 + code;
    p = writeString(buf, p, value);
  }
  response.body.copy(buf, p);
}

export function expiresAtOf(buf: Buffer, at: number): number {
  return buf.readDoubleLE(at + 1);
}

/** The stored fingerprint equals this one (a mismatch is a 422 conflict). Allocates nothing for ASCII. */
export function sameFingerprint(buf: Buffer, at: number, fingerprint: Fingerprint): boolean {
  let p = at + FIXED;
  if (!stringEquals(buf, p, fingerprint.method)) return false;
  p = skipString(buf, p);
  if (!stringEquals(buf, p, fingerprint.target)) return false;
  p = skipString(buf, p);
  if (((buf[at] as number) & HASH_AS_TEXT) !== 0) return stringEquals(buf, p, fingerprint.bodySha256);
  const hex = fingerprint.bodySha256;
  if (hex.length !== 64) return false;
  for (let i = 0; i < 32; i++) {
    const byte = buf[p + i] as number;
    if (hex.charCodeAt(2 * i) !== HEX.charCodeAt(byte >> 4) || hex.charCodeAt(2 * i + 1) !== HEX.charCodeAt(byte & 15)) return false;
  }
  return true;
}

/** A fresh Completion of the record at `at` of `length` bytes: nothing in it shares memory with `buf`. */
export function unpackCompletion(buf: Buffer, at: number, length: number): Completion {
  const kind = KINDS[(buf[at] as number) & 3];
  if (kind === 'response_unavailable' || kind === undefined) return { kind: 'response_unavailable' };
  if (kind === 'outcome_unknown') {
    const code = CODES[buf[at + 11] as number];
    return { kind, code: code === 'UPSTREAM_TIMEOUT' ? code : 'UPSTREAM_OUTCOME_UNKNOWN' };
  }
  let p = skipString(buf, skipString(buf, at + FIXED));
  p = ((buf[at] as number) & HASH_AS_TEXT) !== 0 ? skipString(buf, p) : p + 32;
  const count = buf.readUInt16LE(p);
  p += 2;
  const headers: Array<readonly [string, string]> = [];
  for (let i = 0; i < count; i++) {
    const first = buf[p] as number;
    let name: string;
    if (first >= 0x80 && first < 0xc0) {
      name = COMMON_NAMES[first - 0x80] ?? '';
      p += 1;
    } else {
      name = readString(buf, p);
      p = skipString(buf, p);
    }
    headers.push([name, readString(buf, p)]);
    p = skipString(buf, p);
  }
  return { kind, response: { status: buf.readUInt16LE(at + 9), headers, body: Buffer.from(buf.subarray(p, at + length)) } };
}

function writeString(buf: Buffer, at: number, s: string): number {
  // Short strings (nearly all) take one length byte: try that, and move the bytes if they did not fit.
  const length = buf.write(s, at + 1, 'utf8');
  if (length < 0x80) {
    buf[at] = length;
    return at + 1 + length;
  }
  buf.copyWithin(at + 4, at + 1, at + 1 + length);
  buf.writeUInt32BE((LONG | length) >>> 0, at);
  return at + 4 + length;
}

/** [where the bytes start, how many] of the str at `at`. */
function stringAt(buf: Buffer, at: number): [number, number] {
  const first = buf[at] as number;
  return first < 0x80 ? [at + 1, first] : [at + 4, buf.readUInt32BE(at) & ~LONG];
}

function skipString(buf: Buffer, at: number): number {
  const [start, length] = stringAt(buf, at);
  return start + length;
}

function readString(buf: Buffer, at: number): string {
  const [start, length] = stringAt(buf, at);
  return buf.toString('utf8', start, start + length);
}

function stringEquals(buf: Buffer, at: number, s: string): boolean {
  const [start, length] = stringAt(buf, at);
  if (length !== s.length) return length >= s.length && buf.toString('utf8', start, start + length) === s;
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return buf.toString('utf8', start, start + length) === s;
    if (c !== buf[start + i]) return false;
  }
  return true;
}
