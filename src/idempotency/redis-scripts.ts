// Lua scripts and reply parsing for the Redis idempotency store (redis-store.ts). Every operation is
// one script over KEYS[1] (the record hash) and KEYS[2] (the owner's lease key), so each is atomic
// and touches one Redis Cluster slot. Raises StoreUnavailableError for replies it cannot read.
import { createHash } from 'node:crypto';
import { StoreUnavailableError } from './store.js';
import type { ClaimResult, Completion } from './store.js';

// Record hash fields: state ('in_flight' | 'completed'), method, target, body_sha256, owner (token,
// while in flight), outcome (Completion kind), code, status, headers (JSON [name, value][]), body (raw
// bytes: Lua strings and RESP bulk strings are binary-safe, so no encoding is needed).
const CLAIM = `
local f = redis.call('HMGET', KEYS[1], 'state', 'method', 'target', 'body_sha256', 'owner')
if not f[1] then
  redis.call('HSET', KEYS[1], 'state', 'in_flight', 'method', ARGV[1], 'target', ARGV[2], 'body_sha256', ARGV[3], 'owner', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[6])
  return {'claimed'}
end
if f[2] ~= ARGV[1] or f[3] ~= ARGV[2] or f[4] ~= ARGV[3] then return {'conflict'} end
if f[1] == 'in_flight' then
  if redis.call('GET', KEYS[2]) == f[5] then return {'in_progress'} end
  return {'owner_lost'}
end
local c = redis.call('HMGET', KEYS[1], 'outcome', 'code', 'status', 'headers', 'body')
return {'completed', c[1] or '', c[2] or '', c[3] or '', c[4] or '', c[5] or ''}`;

// HSET leaves the hash's TTL alone, so the record keeps the expiry set at the claim. A timeout keeps
// its owner: only that owner may replace it with the upstream's late answer (COMPLETE_LATE).
const COMPLETE = `
local f = redis.call('HMGET', KEYS[1], 'state', 'owner')
if f[1] ~= 'in_flight' or f[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'completed', 'outcome', ARGV[2], 'code', ARGV[3], 'status', ARGV[4], 'headers', ARGV[5], 'body', ARGV[6])
if ARGV[3] ~= 'UPSTREAM_TIMEOUT' then redis.call('HDEL', KEYS[1], 'owner') end
redis.call('DEL', KEYS[2])
return 1`;

// The owner's timeout (or its still in-flight record, when storing the timeout has not landed yet)
// takes the late answer; an empty outcome deletes the record (a late 408/429/503 releases the key).
const COMPLETE_LATE = `
local f = redis.call('HMGET', KEYS[1], 'state', 'owner', 'outcome', 'code')
if f[2] ~= ARGV[1] then return 0 end
if f[1] == 'completed' and (f[3] ~= 'outcome_unknown' or f[4] ~= 'UPSTREAM_TIMEOUT') then return 0 end
if f[1] ~= 'completed' and f[1] ~= 'in_flight' then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
redis.call('HSET', KEYS[1], 'state', 'completed', 'outcome', ARGV[2], 'code', ARGV[3], 'status', ARGV[4], 'headers', ARGV[5], 'body', ARGV[6])
redis.call('HDEL', KEYS[1], 'owner')
redis.call('DEL', KEYS[2])
return 1`;

const RELEASE = `
local f = redis.call('HMGET', KEYS[1], 'state', 'owner')
if f[1] ~= 'in_flight' or f[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1`;

// A lapsed lease is not revived: duplicates may already have been told the owner is lost.
const RENEW = `
local f = redis.call('HMGET', KEYS[1], 'state', 'owner')
if f[1] ~= 'in_flight' or f[2] ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[2], ARGV[2])`;

export interface Script { readonly lua: string; readonly sha: string }
const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') });
export const SCRIPTS = {
  claim: script(CLAIM), complete: script(COMPLETE), completeLate: script(COMPLETE_LATE), release: script(RELEASE), renew: script(RENEW),
};

export function parseClaimReply(reply: unknown, token: string): ClaimResult {
  const parts = Array.isArray(reply) ? reply.map((p: unknown) => (Buffer.isBuffer(p) ? p : Buffer.alloc(0))) : [];
  const kind = parts[0]?.toString('latin1');
  if (kind === 'claimed') return { kind, token };
  if (kind === 'conflict' || kind === 'in_progress' || kind === 'owner_lost') return { kind };
  if (kind === 'completed') return { kind, completion: parseCompletion(parts.slice(1)) };
  throw new StoreUnavailableError('idempotency store returned an unexpected reply');
}

function parseCompletion([outcome, code, status, headers, body]: Buffer[]): Completion {
  const text = (b: Buffer | undefined): string => (b ? b.toString('utf8') : '');
  switch (text(outcome)) {
    case 'response_unavailable':
      return { kind: 'response_unavailable' };
    case 'outcome_unknown': {
      const c = text(code);
      if (c === 'UPSTREAM_TIMEOUT' || c === 'UPSTREAM_OUTCOME_UNKNOWN') return { kind: 'outcome_unknown', code: c };
      break;
    }
    case 'response': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text(headers));
      } catch {
        break;
      }
      const statusCode = Number(text(status));
      if (Number.isInteger(statusCode) && isHeaderList(parsed)) {
        return { kind: 'response', response: { status: statusCode, headers: parsed, body: body ?? Buffer.alloc(0) } };
      }
    }
  }
  throw new StoreUnavailableError('idempotency store holds a malformed record');
}

function isHeaderList(value: unknown): value is Array<[string, string]> {
  return Array.isArray(value) && value.every((pair: unknown) =>
    Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && typeof pair[1] === 'string');
}

/** The record fields a completion sets: outcome, code, status, headers (JSON), body. */
export function completionFields(completion: Completion): Array<string | Buffer> {
  return completion.kind === 'response'
    ? ['response', '', String(completion.response.status), JSON.stringify(completion.response.headers), completion.response.body]
    : [completion.kind, completion.kind === 'outcome_unknown' ? completion.code : '', '', '', ''];
}
