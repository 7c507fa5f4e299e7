// The per-request context every stage reads and fills in. Built once per request from one pass over
// the raw header lines, which is the only place duplicate Authorization or Idempotency-Key lines can be
// seen (Node keeps only the first Authorization in req.headers).
import { randomFillSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Credential } from '../credentials/snapshot.js';
import type { CredentialsSnapshot } from '../credentials/snapshot.js';
import type { Ip } from '../net/ip-match.js';
import { isAuthorizationName } from '../net/authorization.js';
import type { ReportOnlyDenial } from './report-only.js';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  /** performance.now() at arrival */
  readonly startedAt: number;
  /** the snapshot in force when the request arrived; a reload never changes it mid-request */
  readonly snapshot: CredentialsSnapshot | undefined;
  /** the client sent `Expect: 100-continue`; 100 is sent only when the body is first needed */
  expectContinue: boolean;
  /** header lines JavaScript was handed (Node hands at most server.maxHeaderCount + 1, see server.ts) */
  readonly headerLines: number;
  readonly authorizationLines: number;
  /** Host lines (Node keeps only the first; HTTP/1.1 needs exactly one) */
  readonly hostLines: number;
  /** every `Idempotency-Key` line, in order */
  readonly idempotencyKeyLines: readonly string[];
  credential: Credential | undefined;
  /** the key id presented, once known to exist (logged even when the secret or status fails) */
  knownKeyId: string | undefined;
  /** undefined = not computed yet, null = unknown (unparsable X-Forwarded-For) */
  clientIp: Ip | null | undefined;
  /** the TCP peer is a trusted proxy (its X-Forwarded-* headers are believed) */
  peerTrusted: boolean;
  /** canonical path without the query, set by the target check */
  path: string;
  /** path + query as forwarded */
  target: string;
  /** what happened, for the access log and metrics: ok, replayed, or an error code */
  outcome: string;
  /** detail for logs and metrics only (auth failure reason, upstream error code) */
  reason: string | undefined;
  /** denials a report-only tenant let through (SPEC §6 rev 2); undefined = none, the usual case */
  reportOnly: ReportOnlyDenial[] | undefined;
  upstreamStartedAt: number | undefined;
  upstreamMs: number | undefined;
}

const NO_KEYS: readonly string[] = Object.freeze([]);

// 128 random bits per id, taken from a pool refilled 256 ids at a time. (randomUUID plus removing its
// dashes built about twenty intermediate strings per request.)
const ID_BYTES = 16;
const idPool = Buffer.alloc(ID_BYTES * 256);
let idAt = idPool.length;

export function newRequestId(): string {
  if (idAt === idPool.length) {
    randomFillSync(idPool);
    idAt = 0;
  }
  const hex = idPool.toString('hex', idAt, idAt + ID_BYTES);
  idAt += ID_BYTES;
  return `req_${hex}`;
}

export function createContext(
  req: IncomingMessage,
  res: ServerResponse,
  snapshot: CredentialsSnapshot | undefined,
  expectContinue: boolean,
): RequestContext {
  let authorizationLines = 0;
  let hostLines = 0;
  let idempotencyKeyLines = NO_KEYS as string[];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    // The usual spellings are compared first: toLowerCase() on every request's names showed up in profiles.
    if (isAuthorizationName(name)) authorizationLines++;
    else if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) hostLines++;
    else if (name.length === 15 && name.toLowerCase() === 'idempotency-key') {
      if (idempotencyKeyLines === NO_KEYS) idempotencyKeyLines = [];
      idempotencyKeyLines.push(raw[i + 1] as string);
    }
  }
  const url = req.url ?? '';
  return {
    req,
    res,
    requestId: newRequestId(),
    startedAt: performance.now(),
    snapshot,
    expectContinue,
    headerLines: raw.length >> 1,
    authorizationLines,
    hostLines,
    idempotencyKeyLines,
    credential: undefined,
    knownKeyId: undefined,
    clientIp: undefined,
    peerTrusted: false,
    path: url,
    target: url,
    outcome: 'ok',
    reason: undefined,
    reportOnly: undefined,
    upstreamStartedAt: undefined,
    upstreamMs: undefined,
  };
}

/** Sends `100 Continue` the first time the body is about to be read, never before the checks passed. */
export function continueBody(ctx: RequestContext): void {
  if (ctx.expectContinue) {
    ctx.expectContinue = false;
    if (!ctx.res.headersSent) ctx.res.writeContinue();
  }
}
