// What a Redis login does to a real `custody-proxy serve` (SPEC §3 idempotency.redis login keys, §9):
// with the right password keyed requests execute once and replay; with a wrong one the store is down
// (keyed 503, unkeyed traffic unaffected, store_up 0), one log line says why, and the process keeps
// running. No password ever reaches its output. Shared by the Sentinel and Cluster login tests, and by
// the TLS tests (an untrusted certificate is reported the same way).
import { randomUUID } from 'node:crypto';
import type { Test } from 'tap';
import { bearer, credentialsYaml, type KeySpec } from './credentials.js';
import { sampleValue, scrape } from './metrics-text.js';
import { assertProxyError, call, executions, type CallSpec } from './proxy-calls.js';
import { startUpstream, type RecordingUpstream } from './recording-upstream.js';
import { spawnProxy, type SpawnedProxy } from './spawn-proxy.js';
import { waitFor } from './waits.js';

export const LOGIN_KEY: KeySpec = { keyId: 'ck_test_redis_login', tenant: 'tnt_redis_login', secret: 'sk_test_redis_login_secret' };

export function keyedPost(key: string): CallSpec {
  const headers: Array<readonly [string, string]> = [['Authorization', bearer(LOGIN_KEY)], ['Content-Type', 'application/json'], ['Idempotency-Key', key]];
  return { method: 'POST', path: '/v1/transfers', body: `{"key":"${key}"}`, headers, timeoutMs: 10_000 };
}

/** A proxy on `redis` (a section that names `${CP_REDIS_PASSWORD}`), that variable set to `password`. */
export async function proxyWithPassword(t: Test, upstream: RecordingUpstream, redis: Record<string, unknown>, password: string): Promise<SpawnedProxy> {
  return spawnProxy(t, {
    upstreamUrl: upstream.url,
    credentialsYaml: credentialsYaml([{ id: LOGIN_KEY.tenant }], [LOGIN_KEY]),
    config: { idempotency: { store: 'redis', redis: { ...redis, keyPrefix: `login-${randomUUID()}:` } } },
    env: { CP_REDIS_PASSWORD: password },
    startTimeoutMs: 60_000,
  });
}

export async function startLoginUpstream(t: Test): Promise<RecordingUpstream> {
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  return upstream;
}

/** Keyed requests execute once and replay (a few keys: in a Cluster they land on several masters). */
export async function worksWithTheRightPassword(t: Test, proxy: SpawnedProxy, upstream: RecordingUpstream, keys = 6): Promise<void> {
  for (let i = 0; i < keys; i++) {
    const key = `ok-${randomUUID()}`;
    t.equal((await call(proxy.url, keyedPost(key))).status, 200, `${key} executes`);
    t.equal((await call(proxy.url, keyedPost(key))).headers['idempotent-replayed'], 'true', 'and replays');
    t.equal(executions(upstream.requests, key), 1, 'once');
  }
  t.equal(sampleValue(await scrape(proxy.adminUrl), 'custody_proxy_idempotency_store_up'), 1, 'store_up 1');
}

/** The store is down for keyed requests only; a log line names the refusal (a wrong login, an untrusted
 * certificate); the process lives on. */
export async function downForASetupProblem(t: Test, proxy: SpawnedProxy, upstream: RecordingUpstream, refusal: RegExp): Promise<void> {
  const key = `wrong-${randomUUID()}`;
  assertProxyError(t, await call(proxy.url, keyedPost(key)), 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'a keyed request');
  t.equal(executions(upstream.requests, key), 0, 'was never forwarded');
  const unkeyed = await call(proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(LOGIN_KEY)]] });
  t.equal(unkeyed.status, 200, 'an unkeyed request is served');
  t.equal(sampleValue(await scrape(proxy.adminUrl), 'custody_proxy_idempotency_store_up'), 0, 'store_up 0');
  const said = (): Record<string, unknown> | undefined => proxy.logLines().find((l) => String(l['msg']).startsWith('idempotency store cannot use Redis'));
  await waitFor(() => said() !== undefined, 10_000, 'the log line about the Redis login or TLS');
  t.match(String(said()?.['problem']), refusal, `the log line says why: ${String(said()?.['problem'])}`);
  t.equal(said()?.['level'], 'error');
  t.equal(proxy.logLines().filter((l) => String(l['msg']).startsWith('idempotency store cannot use Redis')).length, 1, 'once, not once per reconnect');
  assertProxyError(t, await call(proxy.url, keyedPost(key)), 503, 'IDEMPOTENCY_STORE_UNAVAILABLE', 'still 503 (the process still serves)');
}

/** Neither password in anything the proxy wrote. */
export function noPasswordIn(t: Test, proxy: SpawnedProxy, ...passwords: string[]): void {
  const output = proxy.stdout() + proxy.stderr();
  for (const p of passwords) t.notOk(output.includes(p), `the proxy's output never shows the password ${p.slice(0, 3)}…`);
}
