// One access line (SPEC §12) in pino's format. JSON.stringify of a fresh object per request, then a UTF-8
// copy, cost about twice what this does (1.3 µs against 0.7 µs a line, measured in a loop): almost every
// field is printable ASCII (ids, method, canonical path, IP), so the line is joined from the values as they
// are and copied as latin1. A value with anything else (quote, backslash, control or non-ASCII character)
// is escaped by JSON.stringify itself, so the line is always exactly JSON.stringify(accessFields(entry))
// (unit-tested on random input).

export interface AccessEntry {
  readonly level: 'info' | 'error';
  /** Date.now() */
  readonly time: number;
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly outcome: string;
  readonly reason: string | undefined;
  /** a report-only tenant's allowlist or permission check would have refused it (SPEC §6 rev 2) */
  readonly reportOnly?: boolean | undefined;
  /** unrounded; logged to the microsecond */
  readonly durationMs: number;
  readonly upstreamMs: number | undefined;
  readonly tenant: string | undefined;
  readonly keyId: string | undefined;
  /** null: unknown (unparsable X-Forwarded-For); undefined: not known at all (omitted) */
  readonly clientIp: string | null | undefined;
}

const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000;

/** The line as an object, in pino's field order (level, time, service first; msg last). */
export function accessFields(e: AccessEntry): Record<string, unknown> {
  return {
    level: e.level,
    time: e.time,
    service: 'custody-proxy',
    requestId: e.requestId,
    method: e.method,
    path: e.path,
    status: e.status,
    outcome: e.outcome,
    reason: e.reason,
    reportOnly: e.reportOnly ? true : undefined,
    durationMs: roundMs(e.durationMs),
    upstreamMs: e.upstreamMs === undefined ? undefined : roundMs(e.upstreamMs),
    tenant: e.tenant,
    keyId: e.keyId,
    clientIp: e.clientIp,
    msg: 'request',
  };
}

/** Set by accessLineText: whether the last line has a value that JSON.stringify escaped (so it may hold non-latin1 text). */
let utf8 = false;

/** Printable ASCII other than `"` and `\`: such a string is its own JSON body. */
const NEEDS_ESCAPE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

function str(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  utf8 = true;
  return JSON.stringify(s);
}

// String(n) is JSON's number syntax for every finite number; JSON writes the others as null.
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

// String() of a fractional or large number misses V8's number-string cache on every line (each duration
// is new) and takes its slow runtime path: about 2 µs a line in a native profile under load, most of the
// access line's cost, though a loop over one value (a cache hit) shows none of it. So the durations are
// joined from two table entries, and the time's text is reused within its millisecond.
const WHOLE = Array.from({ length: 1000 }, (_, i) => String(i));
/** ".5", ".05", ".005", ".123": the fraction digits of i/1000 without trailing zeros ('' for 0) */
const THOUSANDTHS = Array.from({ length: 1000 }, (_, i) => (i === 0 ? '' : `.${String(i).padStart(3, '0').replace(/0+$/, '')}`));

/**
 * JSON text of Math.round(ms * 1000) / 1000. For 0 <= k < 1e9 thousandths the shortest decimal that
 * reads back as k / 1000 is k / 1000 written out (neighbouring doubles are far closer than 0.001 apart),
 * which is what String() prints; anything else goes through String().
 */
function millis(ms: number): string {
  const k = Math.round(ms * 1000);
  if (!(k >= 0 && k < 1e9)) return num(k / 1000);
  const whole = Math.floor(k / 1000);
  const rest = THOUSANDTHS[k - whole * 1000] as string;
  return whole < 1000 ? (WHOLE[whole] as string) + rest : String(whole) + rest;
}

let lastTime = Number.NaN;
let lastTimeText = 'null';

function time(t: number): string {
  if (t !== lastTime) {
    lastTime = t;
    lastTimeText = num(t);
  }
  return lastTimeText;
}

/** The line, exactly as JSON.stringify(accessFields(e)) writes it, built without the intermediate object. */
export function accessLineText(e: AccessEntry): string {
  utf8 = false;
  let line = `{"level":"${e.level}","time":${time(e.time)},"service":"custody-proxy","requestId":${str(e.requestId)},"method":${str(e.method)},"path":${str(e.path)},"status":${num(e.status)},"outcome":${str(e.outcome)}`;
  if (e.reason !== undefined) line += `,"reason":${str(e.reason)}`;
  if (e.reportOnly) line += ',"reportOnly":true';
  line += `,"durationMs":${millis(e.durationMs)}`;
  if (e.upstreamMs !== undefined) line += `,"upstreamMs":${millis(e.upstreamMs)}`;
  if (e.tenant !== undefined) line += `,"tenant":${str(e.tenant)}`;
  if (e.keyId !== undefined) line += `,"keyId":${str(e.keyId)}`;
  if (e.clientIp === null) line += ',"clientIp":null';
  else if (e.clientIp !== undefined) line += `,"clientIp":${str(e.clientIp)}`;
  return `${line},"msg":"request"}`;
}

/**
 * Writes the line (without newline) into `buf` from `at`; returns where it ends, or -1 when it might not
 * fit before `limit` (nothing is written then).
 */
export function encodeAccessLine(e: AccessEntry, buf: Buffer, at: number, limit: number): number {
  const line = accessLineText(e);
  // UTF-8 takes at most 3 bytes per UTF-16 unit
  if (at + (utf8 ? line.length * 3 : line.length) > limit) return -1;
  return at + buf.write(line, at, utf8 ? 'utf8' : 'latin1');
}

/** For BatchedLines (access-writer.ts). */
export const ACCESS_LINES = { encode: encodeAccessLine, text: accessLineText };
