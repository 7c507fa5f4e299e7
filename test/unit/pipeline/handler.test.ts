// Unit tests of the stage runner (createHandler in pipeline/handler.ts), with made-up stages and
// terminals behind a real http server on 127.0.0.1: stages that return nothing run synchronously and
// create no promise; a returned promise is awaited and the next stage runs only once it resolves; a
// thrown or rejected ProxyError is answered with its §10 body and nothing after it runs; anything else
// thrown or rejected is a 503 SERVICE_UNAVAILABLE (internal_error), logged at error.
import t, { type Test } from 'tap';
import http from 'node:http';
import { createHook } from 'node:async_hooks';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CredentialsRegistry } from '../../../src/credentials/registry.js';
import { ProxyError } from '../../../src/errors.js';
import { createHandler, type Stage, type Terminal } from '../../../src/pipeline/handler.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import type { CredentialsSnapshot } from '../../../src/credentials/snapshot.js';
import type { AccessEntry } from '../../../src/telemetry/access-line.js';
import { createLoggers } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { snapshotOf } from '../../helpers/fake-context.js';
import { request, type Reply } from '../../helpers/http-client.js';
import { gate, waitFor } from '../../helpers/waits.js';

const SNAPSHOT = snapshotOf([{ id: 'tnt_a' }], [{ keyId: 'ck_a', tenant: 'tnt_a', secret: 's' }]);

interface Recorder {
  /** what ran, in order; 'returned' when the handler call returned to the server */
  readonly events: string[];
  /** promises created while the handler call ran, one count per request */
  readonly promises: number[];
  readonly access: AccessEntry[];
  readonly errorLogs: string[];
  /** every context a stage or the terminal saw (one request: one context throughout) */
  readonly contexts: Set<RequestContext>;
}

const recorder = (): Recorder => ({ events: [], promises: [], access: [], errorLogs: [], contexts: new Set() });

/** Serves createHandler(stages, terminal) on 127.0.0.1 port 0, recording into `rec`; returns its URL. */
async function serve(t: Test, rec: Recorder, stages: Stage[], terminal: Terminal, snapshot: CredentialsSnapshot | null = SNAPSHOT): Promise<string> {
  const registry = new CredentialsRegistry();
  if (snapshot) registry.offer(snapshot, 'test');
  const { logger } = createLoggers('error', { write: (line: string) => void rec.errorLogs.push(line) });
  const seen = (ctx: RequestContext): RequestContext => (rec.contexts.add(ctx), ctx);
  const handler = createHandler({
    registry,
    stages: stages.map((stage): Stage => (ctx) => stage(seen(ctx))),
    terminal: (ctx) => terminal(seen(ctx)),
    logger,
    accessLog: { infoEnabled: true, errorEnabled: true, write: (e) => void rec.access.push(e), flush: () => {} },
    metrics: createMetrics({ processMetrics: false }),
    isClosing: () => false,
    maxHeaderCount: 100,
  });
  let created = 0;
  const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && created++) });
  const server = http.createServer((req, res) => {
    created = 0;
    hook.enable();
    handler(req, res, false);
    hook.disable();
    rec.promises.push(created);
    rec.events.push('returned');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const step = (rec: Recorder, name: string): Stage => () => void rec.events.push(name);
const forward = (rec: Recorder): Terminal => (ctx) => {
  rec.events.push('terminal');
  ctx.res.writeHead(200, { 'content-type': 'text/plain' });
  ctx.res.end('forwarded');
};

/** Asserts the §10 body and headers of a local error reply, and its access line. */
async function expectError(t: Test, rec: Recorder, reply: Reply, status: number, code: string, message: string, reason: string): Promise<void> {
  t.equal(reply.status, status, `status ${status}`);
  t.equal(reply.headers['content-type'], 'application/json');
  t.equal(reply.headers['cache-control'], 'no-store');
  t.match(reply.headers['x-request-id'], /^req_[0-9a-f]{32}$/);
  t.strictSame(reply.json(), { code, message, requestId: reply.headers['x-request-id'] }, 'exactly code, message, requestId');
  await waitFor(() => rec.access.length === 1, 5000, 'the access line');
  t.strictSame([rec.access[0]?.outcome, rec.access[0]?.reason, rec.access[0]?.status], [code, reason, status], 'access line: outcome, reason, status');
}

t.test('stages that return nothing run synchronously, in order, then the terminal; no promise', async (t) => {
  const rec = recorder();
  const url = await serve(t, rec, [step(rec, 'a'), step(rec, 'b'), step(rec, 'c')], forward(rec));
  const reply = await request(url, { path: '/v1/x' });
  t.equal(reply.status, 200);
  t.equal(reply.text, 'forwarded');
  t.strictSame(rec.events, ['a', 'b', 'c', 'terminal', 'returned'], 'all before the handler call returned');
  t.strictSame(rec.promises, [0], 'no promise created by the handler call');
  t.equal(rec.contexts.size, 1, 'one context for every stage and the terminal');
  await waitFor(() => rec.access.length === 1, 5000, 'the access line');
  t.strictSame([rec.access[0]?.outcome, rec.access[0]?.status], ['ok', 200]);
});

t.test('a returned promise is awaited: the next stage runs only once it resolves', async (t) => {
  const rec = recorder();
  const store = gate();
  const asking: Stage = async () => {
    rec.events.push('b asks');
    await store.wait;
    rec.events.push('b answered');
  };
  const quick: Stage = async () => void rec.events.push('d');
  const url = await serve(t, rec, [step(rec, 'a'), asking, step(rec, 'c'), quick, step(rec, 'e')], forward(rec));
  const pending = request(url, { path: '/v1/x' });
  await waitFor(() => rec.events.includes('returned'), 5000, 'the handler call to return');
  await sleep(50);
  t.strictSame(rec.events, ['a', 'b asks', 'returned'], 'c has not run while b is pending');
  t.ok((rec.promises[0] ?? 0) > 0, 'the promise counter sees the stage\'s promise (so the 0 above means none)');
  store.open();
  const reply = await pending;
  t.equal(reply.status, 200);
  t.strictSame(rec.events, ['a', 'b asks', 'returned', 'b answered', 'c', 'd', 'e', 'terminal'], 'each stage once, in order');
  t.equal(rec.contexts.size, 1, 'the same context after the awaits');
});

t.test('a thrown ProxyError is answered with its §10 body; nothing after it runs', async (t) => {
  const rec = recorder();
  const refuse: Stage = () => {
    rec.events.push('b');
    throw new ProxyError('FORBIDDEN', 'permission');
  };
  const url = await serve(t, rec, [step(rec, 'a'), refuse, step(rec, 'c')], forward(rec));
  const reply = await request(url, { path: '/v1/x' });
  await expectError(t, rec, reply, 403, 'FORBIDDEN', 'access denied', 'permission');
  t.strictSame(rec.events, ['a', 'b', 'returned'], 'answered synchronously; c and the terminal never ran');
  t.strictSame(rec.promises, [0], 'no promise created');
});

t.test('a rejected ProxyError is answered with its §10 body; nothing after it runs', async (t) => {
  const rec = recorder();
  const limited: Stage = async () => {
    rec.events.push('b');
    await sleep(1);
    throw new ProxyError('RATE_LIMITED', 'too_fast', 7);
  };
  const url = await serve(t, rec, [step(rec, 'a'), limited, step(rec, 'c')], forward(rec));
  const reply = await request(url, { path: '/v1/x' });
  await expectError(t, rec, reply, 429, 'RATE_LIMITED', 'too many requests', 'too_fast');
  t.equal(reply.headers['retry-after'], '7');
  t.strictSame(rec.events, ['a', 'b', 'returned'], 'c and the terminal never ran');
});

t.test('anything else thrown or rejected is a 503 internal_error, logged at error', async (t) => {
  const thrown: Stage = () => {
    throw new TypeError('a bug');
  };
  const rejected: Stage = async () => {
    throw new TypeError('a bug');
  };
  for (const [what, broken] of [['thrown', thrown], ['rejected', rejected]] as const) {
    const rec = recorder();
    const url = await serve(t, rec, [broken, step(rec, 'after')], forward(rec));
    const reply = await request(url, { path: '/v1/x' });
    await expectError(t, rec, reply, 503, 'SERVICE_UNAVAILABLE', 'service unavailable', 'internal_error');
    t.strictSame(rec.events, ['returned'], `${what}: nothing after it ran`);
    t.equal(rec.errorLogs.length, 1, `${what}: one error line`);
    t.match(rec.errorLogs[0], /"msg":"unexpected error in request pipeline"/, `${what}: logged`);
    t.match(rec.errorLogs[0], `"requestId":"${String(reply.headers['x-request-id'])}"`, `${what}: with the request id`);
  }
});

t.test("a terminal's rejected promise is answered too", async (t) => {
  const rec = recorder();
  const url = await serve(t, rec, [step(rec, 'a')], async () => {
    rec.events.push('terminal');
    await sleep(1);
    throw new ProxyError('UPSTREAM_TIMEOUT', 'slow');
  });
  const reply = await request(url, { path: '/v1/x' });
  await expectError(t, rec, reply, 504, 'UPSTREAM_TIMEOUT', 'upstream timeout', 'slow');
  t.strictSame(rec.events, ['a', 'terminal', 'returned']);
});

t.test('without a credentials snapshot no stage runs: 503 no_credentials', async (t) => {
  const rec = recorder();
  const url = await serve(t, rec, [step(rec, 'a')], forward(rec), null);
  const reply = await request(url, { path: '/v1/x' });
  await expectError(t, rec, reply, 503, 'SERVICE_UNAVAILABLE', 'service unavailable', 'no_credentials');
  t.equal(reply.headers['retry-after'], '1');
  t.strictSame(rec.events, ['returned']);
});
