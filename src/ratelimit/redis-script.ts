// The Redis limiter's one script (SPEC §13: one atomic script per request, no read-modify-write race
// between replicas). GCRA over every bucket of the request at once, on Redis' own clock (TIME), so
// replicas with skewed clocks still share one timeline. Times are integer microseconds, written with
// %.0f: Lua's default number formatting keeps 14 digits, fewer than an epoch in µs has.
import { createHash } from 'node:crypto';

// KEYS: the buckets. ARGV[1]: take (charge all only when all admit) | peek (charge none) | add
// (charge all, capped at the tolerance). ARGV[2i], ARGV[2i+1]: KEYS[i]'s interval and tolerance (µs).
// Reply: {index of the refusing bucket with the longest wait (0: admitted), that wait in µs}.
export const RATE_LIMIT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local mode = ARGV[1]
local worst, wait = 0, 0
local nexts = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or 0) or 0
  if tat < now then tat = now end
  local w = tat + interval - tolerance - now
  if w > wait then worst, wait = i, w end
  nexts[i] = math.min(tat + interval, now + tolerance)
end
if mode == 'peek' or (mode == 'take' and worst > 0) then return {worst, wait} end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], string.format('%.0f', nexts[i]), 'PX', math.ceil((nexts[i] - now) / 1000) + 1)
end
return {0, 0}`;

export const RATE_LIMIT_SHA = createHash('sha1').update(RATE_LIMIT_LUA).digest('hex');

export type ScriptMode = 'take' | 'peek' | 'add';

/** The script's reply: the 0-based index of the refusing bucket and its wait in ms, or undefined. */
export function parseReply(reply: unknown): { index: number; waitMs: number } | undefined {
  if (!Array.isArray(reply) || typeof reply[0] !== 'number' || typeof reply[1] !== 'number') {
    throw new Error('rate limit store returned an unexpected reply');
  }
  return reply[0] === 0 ? undefined : { index: reply[0] - 1, waitMs: reply[1] / 1000 };
}
