// SPEC §12 (and §5 "the reason goes only to logs") over real sockets: exactly one access line per
// request with requestId, method, path, status, outcome, tenant, keyId, clientIp, durationMs; the
// rejection reason logged; and never a secret, an Authorization value, or a request/response body in
// any log line, even at level trace, wherever the client put its credential.
import t, { type Test } from 'tap';
import { startUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer, type KeySpec, type TenantSpec } from '../helpers/credentials.js';
import { request, type Reply } from '../helpers/http-client.js';

interface Env {
  readonly proxy: TestProxy;
  readonly upstream: RecordingUpstream;
}

const HOUR = 3_600_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

const SECRET = 'sk_live_Zq8SECRETMARKERx71kP0';
const key: KeySpec = { keyId: 'ck_live_logtest', tenant: 'tnt_log', secret: SECRET };
const fenced: KeySpec = { keyId: 'ck_live_fenced', tenant: 'tnt_fenced', secret: 'sk_live_FENCEDMARKER42' };
const lifecycle: KeySpec[] = [
  { keyId: 'ck_live_prov', tenant: 'tnt_log', secret: 'sk_live_PROVMARKER', status: 'provisioned' },
  { keyId: 'ck_live_revoked', tenant: 'tnt_log', secret: 'sk_live_REVOKEDMARKER', status: 'revoked' },
  { keyId: 'ck_live_graceover', tenant: 'tnt_log', secret: 'sk_live_GRACEMARKER', status: 'rotated', graceUntil: iso(-HOUR) },
  { keyId: 'ck_live_expired', tenant: 'tnt_log', secret: 'sk_live_EXPIREDMARKER', expiresAt: iso(-HOUR) },
];
const tenants: TenantSpec[] = [{ id: 'tnt_log' }, { id: 'tnt_fenced', ipAllowList: ['10.0.0.0/8'] }];

async function setup(t: Test, level = 'info', config: Record<string, unknown> = {}): Promise<Env> {
  const upstream = await startUpstream();
  const proxy = await startProxy({
    upstreamUrl: upstream.url,
    credentialsYaml: credentialsYaml(tenants, [key, fenced, ...lifecycle]),
    config: { logging: { level }, ...config },
  });
  t.teardown(async () => {
    await proxy.close();
    await upstream.close();
  });
  return { proxy, upstream };
}

type Line = Record<string, unknown>;

function parsed(proxy: TestProxy): Line[] {
  const out: Line[] = [];
  for (const l of proxy.logs) {
    try {
      out.push(JSON.parse(l) as Line);
    } catch {
      out.push({ unparsable: l });
    }
  }
  return out;
}

/** The access lines for one request id, once at least one has been written (it is written on close). */
async function accessLines(proxy: TestProxy, requestId: string): Promise<Line[]> {
  const find = (): Line[] => parsed(proxy).filter((l) => l['requestId'] === requestId && l['msg'] === 'request');
  for (let i = 0; i < 100 && find().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 30)); // a late duplicate would show up here
  return find();
}

async function theLine(t: Test, proxy: TestProxy, r: Reply, what: string): Promise<Line> {
  const id = String(r.headers['x-request-id']);
  const lines = await accessLines(proxy, id);
  t.equal(lines.length, 1, `${what}: exactly one access line`);
  return lines[0] ?? {};
}

t.test('one access line per request with the §12 fields', async (t) => {
  const env = await setup(t);
  const ok = await request(env.proxy.url, { path: '/v1/vaults/abc', headers: [['Authorization', bearer(key)]] });
  t.equal(ok.status, 200);
  t.equal(env.upstream.requests.length, 1, 'upstream called once');
  const l = await theLine(t, env.proxy, ok, '200');
  t.equal(l['requestId'], ok.headers['x-request-id'], 'requestId');
  t.equal(l['method'], 'GET', 'method');
  t.equal(l['path'], '/v1/vaults/abc', 'path');
  t.equal(l['status'], 200, 'status');
  t.equal(l['outcome'], 'ok', 'outcome');
  t.equal(l['tenant'], 'tnt_log', 'tenant');
  t.equal(l['keyId'], key.keyId, 'keyId');
  t.equal(l['clientIp'], '127.0.0.1', 'clientIp');
  t.type(l['durationMs'], 'number', 'durationMs');
  t.ok(Number(l['durationMs']) >= 0, 'durationMs >= 0');
  t.type(l['upstreamMs'], 'number', 'upstream duration');

  const post = await request(env.proxy.url, {
    method: 'POST',
    path: '/v1/transfers',
    headers: [['Authorization', bearer(key)], ['Content-Type', 'application/json']],
    body: '{"a":1}',
  });
  t.equal(post.status, 200);
  const lp = await theLine(t, env.proxy, post, 'POST');
  t.equal(lp['method'], 'POST');
  t.equal(lp['path'], '/v1/transfers');
  t.equal(env.upstream.requests.length, 2);

  const denied = await request(env.proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(fenced)]] });
  t.equal(denied.status, 403);
  const ld = await theLine(t, env.proxy, denied, '403');
  t.equal(ld['status'], 403, '403 status');
  t.equal(ld['outcome'], 'FORBIDDEN', '403 outcome');
  t.equal(ld['tenant'], 'tnt_fenced', '403 tenant');
  t.equal(ld['keyId'], fenced.keyId, '403 keyId');
  t.equal(ld['clientIp'], '127.0.0.1', '403 clientIp');
  t.type(ld['reason'], 'string', '403 reason logged');
  t.type(ld['durationMs'], 'number');

  const unauth = await request(env.proxy.url, { path: '/v1/vaults' });
  const lu = await theLine(t, env.proxy, unauth, '401');
  t.equal(lu['status'], 401, '401 status');
  t.equal(lu['outcome'], 'UNAUTHORIZED', '401 outcome');
  t.equal(lu['method'], 'GET');
  t.equal(lu['path'], '/v1/vaults');
  t.equal(lu['clientIp'], '127.0.0.1', '401 clientIp');
  t.type(lu['durationMs'], 'number');
  t.equal(env.upstream.requests.length, 2, 'rejections not forwarded');

  const all = parsed(env.proxy).filter((x) => x['msg'] === 'request');
  t.equal(all.length, 4, 'four requests, four access lines');
});

t.test('the client IP logged is the resolved client behind a trusted proxy', async (t) => {
  const env = await setup(t, 'info', { trustedProxies: ['127.0.0.1/32'] });
  const r = await request(env.proxy.url, { path: '/v1/vaults', headers: [['Authorization', bearer(key)], ['X-Forwarded-For', '203.0.113.7']] });
  t.equal(r.status, 200);
  const l = await theLine(t, env.proxy, r, 'XFF');
  t.equal(l['clientIp'], '203.0.113.7');
  t.same(env.upstream.requests[0] ? env.upstream.headerLines(env.upstream.requests[0], 'x-forwarded-for') : [], ['203.0.113.7']);
});

t.test('rejection reasons go to the log; the presented secret and unknown key ids do not', async (t) => {
  const env = await setup(t);
  const WRONG = 'sk_live_WRONGSECRETMARKER9';
  const wrong = await request(env.proxy.url, { path: '/v1/vaults', headers: [['Authorization', `Bearer ${key.keyId}:${WRONG}`]] });
  t.equal(wrong.status, 401);
  const lw = await theLine(t, env.proxy, wrong, 'wrong secret');
  t.type(lw['reason'], 'string', 'wrong secret: reason logged');
  t.ok(String(lw['reason']).length > 0, 'wrong secret: reason not empty');
  t.notOk(env.proxy.logText().includes(WRONG), 'the presented wrong secret is not logged');

  const UNKNOWN_ID = 'ck_live_NOSUCHKEYMARKER';
  const UNKNOWN_SECRET = 'sk_live_UNKNOWNSECRETMARKER';
  const unknown = await request(env.proxy.url, { path: '/v1/vaults', headers: [['Authorization', `Bearer ${UNKNOWN_ID}:${UNKNOWN_SECRET}`]] });
  t.equal(unknown.status, 401);
  const lu = await theLine(t, env.proxy, unknown, 'unknown key');
  t.not(lu['keyId'], UNKNOWN_ID, 'an unknown key id is not logged as keyId');
  t.equal(lu['keyId'], undefined, 'no keyId for an unknown key');
  t.equal(lu['tenant'], undefined, 'no tenant for an unknown key');
  t.type(lu['reason'], 'string', 'unknown key: reason logged');
  t.not(lu['reason'], lw['reason'], 'unknown key and wrong secret are told apart in the log');
  t.notOk(env.proxy.logText().includes(UNKNOWN_SECRET), 'its secret is not logged');

  const reasons = new Map<string, unknown>();
  const cases: Array<[string, Array<[string, string]>]> = [
    ['missing', []],
    ['duplicate', [['Authorization', bearer(key)], ['Authorization', bearer(key)]]],
    ['malformed', [['Authorization', 'Basic abc']]],
    ...lifecycle.map((k): [string, Array<[string, string]>] => [k.keyId, [['Authorization', bearer(k)]]]),
  ];
  for (const [what, headers] of cases) {
    const r = await request(env.proxy.url, { path: '/v1/vaults', headers });
    t.equal(r.status, 401, `${what}: 401`);
    const l = await theLine(t, env.proxy, r, what);
    t.type(l['reason'], 'string', `${what}: reason logged`);
    reasons.set(what, l['reason']);
  }
  t.equal(new Set(reasons.values()).size, reasons.size, 'each rejection cause has its own reason');
  t.equal(env.upstream.requests.length, 0, 'upstream never called');
});

t.test('no secret, Authorization value or body in any log line, even at trace', async (t) => {
  const env = await setup(t, 'trace');
  const REQ_BODY = 'REQUESTBODYMARKER_b7e1';
  const RES_BODY = 'RESPONSEBODYMARKER_c9f2';
  env.upstream.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ note: RES_BODY }));
  };
  const auth = bearer(key);
  const okPost = await request(env.proxy.url, {
    method: 'POST',
    path: '/v1/transfers',
    headers: [['Authorization', auth], ['Content-Type', 'application/json']],
    body: JSON.stringify({ memo: REQ_BODY }),
  });
  t.equal(okPost.status, 200);
  t.ok(okPost.text.includes(RES_BODY), 'the client got the response body');
  t.equal(env.upstream.requests[0]?.body.toString('utf8'), JSON.stringify({ memo: REQ_BODY }), 'the upstream got the request body');

  const REJ_BODY = 'REJECTEDBODYMARKER_d4a0';
  const pair = `${key.keyId}:${SECRET}`;
  const attempts: Array<Parameters<typeof request>[1]> = [
    { method: 'POST', path: '/v1/transfers', headers: [['Authorization', `Bearer ${key.keyId}:x`]], body: REJ_BODY },
    { path: `/v1/vaults?api_key=${encodeURIComponent(pair)}` },
    { path: `/v1/vaults?access_token=${SECRET}` },
    { path: '/v1/vaults', headers: [['Cookie', `api_key=${SECRET}`]] },
    { path: '/v1/vaults', headers: [['X-API-Key', pair]] },
    { path: '/v1/vaults', headers: [['Authorization', `Bearer ${key.keyId}${SECRET}`]] },
    { path: '/v1/vaults', headers: [['Authorization', `Basic ${Buffer.from(pair).toString('base64')}`]] },
    { path: '/v1/vaults', headers: [['Authorization', `Basic ${pair}`]] },
    { path: '/v1/vaults', headers: [['Authorization', auth], ['Authorization', auth]] },
    { path: '/v1/vaults', headers: [['Authorization', `Bearer :${SECRET}`]] },
    { path: '/v1/vaults', headers: [['Proxy-Authorization', auth]] },
    { path: '/v1/vaults', headers: [['Authorization', bearer(fenced)]] },
  ];
  for (const spec of attempts) {
    const r = await request(env.proxy.url, spec);
    t.ok(r.status === 401 || r.status === 403, `${spec?.path ?? ''}: rejected (${r.status})`);
    await accessLines(env.proxy, String(r.headers['x-request-id']));
  }
  t.equal(env.upstream.requests.length, 1, 'only the good POST reached the upstream');

  const text = env.proxy.logText();
  t.ok(env.proxy.logs.length >= attempts.length + 1, 'there are log lines to search');
  for (const [what, needle] of [
    ['the secret', SECRET],
    ['the secret (fenced key)', fenced.secret],
    ['the base64 credential', Buffer.from(pair).toString('base64')],
    ['the url-encoded credential', encodeURIComponent(pair)],
    ['the Authorization value', auth],
    ['a Bearer value', 'Bearer '],
    ['the request body', REQ_BODY],
    ['the rejected request body', REJ_BODY],
    ['the response body', RES_BODY],
  ] as const) {
    t.notOk(text.includes(needle), `${what} never appears in the log`);
  }
  t.notMatch(text, /SECRETMARKER/, 'no fragment of the secret');
});
