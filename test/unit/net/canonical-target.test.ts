// Request-target canonical form (SPEC §7): dot segments (also %2e/%2E-encoded), `//`, encoded `/`,
// `\` and NUL, raw backslashes, absolute-form to another host and `*` are refused; absolute-form to the
// Host itself becomes origin-form; the query is not inspected; `..a` segments and `/` are fine.
import t, { type Test } from 'tap';
import { canonicalTarget } from '../../../src/net/canonical-target.js';

const HOST = 'api.custody.example';

function refuses(t: Test, urls: readonly string[]): void {
  for (const url of urls) t.equal(canonicalTarget(url, HOST), undefined, JSON.stringify(url));
}

t.test('forbidden forms', async (t) => {
  refuses(t, [
    '/v1/../admin',
    '/v1/./vaults',
    '/..',
    '/.',
    '/v1/vaults/..',
    '/v1/vaults/.',
    '/v1/%2e%2e/admin',
    '/v1/%2E%2E/admin',
    '/v1/%2e%2E/admin',
    '/v1/.%2e/admin',
    '/v1/%2e./admin',
    '/v1/%2e/vaults',
    '/v1/%2E/vaults',
    '//v1/vaults',
    '/v1//vaults',
    '/v1/vaults//',
    '/v1%2fvaults',
    '/v1%2Fvaults',
    '/v1%5cvaults',
    '/v1%5Cvaults',
    '/v1/vaults%00',
    '/v1\\vaults',
    '/v1/..\\admin',
    '*',
    'v1/vaults',
    '',
    'http://evil.example/v1/vaults',
    'https://evil.example/v1/vaults',
    `http://${HOST}.evil.example/v1`,
    `http://${HOST}/v1/../admin`,
    `http://${HOST}//v1`,
  ]);
  t.equal(canonicalTarget(`http://${HOST}/v1`, undefined), undefined, 'absolute-form without a Host');
});

t.test('servlet path parameters: `..;` and friends are dot segments (SPEC §7 rev 2)', async (t) => {
  refuses(t, [
    '/v1/reports/..;/withdrawals',
    '/v1/vaults/..;',
    '/v1/vaults/..;x=1/withdrawals',
    '/v1/vaults/.;/x',
    '/v1/vaults/.;',
    '/v1/%2e%2e;/withdrawals',
    '/v1/%2E%2E;/withdrawals',
    '/v1/..%3b/withdrawals',
    '/v1/..%3B/withdrawals',
    '/v1/%2e%2e%3b/withdrawals',
    '/v1/.%3bjsessionid=1/x',
    '/v1/;/withdrawals',
    '/;x/v1',
    '/v1/%3b/x',
  ]);
});

t.test('`;` inside a named segment is kept and forwarded as sent', async (t) => {
  t.same(canonicalTarget('/v1/vaults;v=2', HOST), { path: '/v1/vaults;v=2', target: '/v1/vaults;v=2' });
  t.same(canonicalTarget('/v1/a..;b/c', HOST), { path: '/v1/a..;b/c', target: '/v1/a..;b/c' }, 'a..;b names a..');
  t.same(canonicalTarget('/v1/...;x', HOST), { path: '/v1/...;x', target: '/v1/...;x' });
  t.same(canonicalTarget('/v1/vaults/', HOST), { path: '/v1/vaults/', target: '/v1/vaults/' });
});

t.test('absolute-form to the Host itself is accepted as origin-form', async (t) => {
  t.same(canonicalTarget(`http://${HOST}/v1/vaults?x=1`, HOST), { path: '/v1/vaults', target: '/v1/vaults?x=1' });
  t.same(canonicalTarget(`https://${HOST}/v1`, HOST), { path: '/v1', target: '/v1' });
  t.same(canonicalTarget(`HTTP://API.Custody.Example/v1`, HOST), { path: '/v1', target: '/v1' }, 'scheme and host case-insensitive');
  t.same(canonicalTarget(`http://${HOST}`, HOST), { path: '/', target: '/' }, 'empty path is /');
  t.same(canonicalTarget(`http://${HOST}:8080/v1`, `${HOST}:8080`), { path: '/v1', target: '/v1' }, 'with a port');
});

t.test('absolute-form with an empty path and a query', async (t) => {
  // RFC 9112 §3.2.1: an empty path is sent as "/", so http://host?x=1 is the origin-form /?x=1.
  t.same(canonicalTarget(`http://${HOST}?x=1`, HOST), { path: '/', target: '/?x=1' });
});

t.test('allowed forms', async (t) => {
  t.same(canonicalTarget('/', HOST), { path: '/', target: '/' });
  t.same(canonicalTarget('/v1/vaults', HOST), { path: '/v1/vaults', target: '/v1/vaults' });
  t.same(canonicalTarget('/v1/..a/b', HOST), { path: '/v1/..a/b', target: '/v1/..a/b' }, '..a is a name');
  t.same(canonicalTarget('/v1/a../b', HOST), { path: '/v1/a../b', target: '/v1/a../b' });
  t.same(canonicalTarget('/v1/.well-known', HOST), { path: '/v1/.well-known', target: '/v1/.well-known' });
  t.same(canonicalTarget('/v1/...', HOST), { path: '/v1/...', target: '/v1/...' }, 'three dots is a name');
  t.same(canonicalTarget('/v1/vaults/', HOST), { path: '/v1/vaults/', target: '/v1/vaults/' }, 'one trailing slash');
  t.same(canonicalTarget('/v1/a%20b', HOST), { path: '/v1/a%20b', target: '/v1/a%20b' }, 'other percent-encodings');
  t.same(canonicalTarget('/v1/%2e%2ea', HOST), { path: '/v1/%2e%2ea', target: '/v1/%2e%2ea' }, 'encoded ..a is a name too');
  t.same(
    canonicalTarget('/v1/search?q=../../etc&p=%2F%5c%00//x', HOST),
    { path: '/v1/search', target: '/v1/search?q=../../etc&p=%2F%5c%00//x' },
    'the query is not inspected and is forwarded unchanged',
  );
  t.same(canonicalTarget('/v1?', HOST), { path: '/v1', target: '/v1?' });
});
