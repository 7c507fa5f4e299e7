// Unit tests of the refuse-browser stage (SPEC §5 rev 2): a request carrying `Origin` (any value, in any
// spelling of the name, empty included) or any `Sec-Fetch-Mode` is refused 403 FORBIDDEN reason
// browser_request, whatever the method; a request with neither passes, also with the other fetch
// metadata or CORS-looking headers a non-browser client might send.
import t from 'tap';
import { refuseBrowser } from '../../../src/stages/refuse-browser.js';
import { fakeContext, refusal, type HeaderLine } from '../../helpers/fake-context.js';

const REFUSED = { code: 'FORBIDDEN', reason: 'browser_request', status: 403 };

function check(lines: readonly HeaderLine[], method = 'GET'): ReturnType<typeof refusal> {
  const ctx = fakeContext({ method, headers: [['Host', 'proxy.test'], ['Authorization', 'Bearer ck_live_a:s'], ...lines] });
  return refusal(() => refuseBrowser(ctx));
}

t.test('Origin, any value and any spelling of the name, is refused', async (t) => {
  for (const [name, value] of [
    ['Origin', 'https://wallet.example'],
    ['origin', 'null'],
    ['ORIGIN', 'http://127.0.0.1:3000'],
    ['Origin', ''],
  ] as const) {
    t.same(check([[name, value]]), REFUSED, `${name}: ${JSON.stringify(value)}`);
  }
});

t.test('a CORS preflight is refused like any other browser request', async (t) => {
  const preflight: HeaderLine[] = [['Origin', 'https://app.example'], ['Access-Control-Request-Method', 'POST'], ['Access-Control-Request-Headers', 'authorization']];
  t.same(check(preflight, 'OPTIONS'), REFUSED);
  for (const method of ['POST', 'DELETE', 'HEAD']) t.same(check([['Origin', 'https://app.example']], method), REFUSED, method);
});

t.test("Sec-Fetch-Mode: SPEC's cors, navigate and no-cors are refused, other values pass", async (t) => {
  for (const mode of ['cors', 'navigate', 'no-cors', 'CORS', 'No-Cors']) {
    t.same(check([['Sec-Fetch-Mode', mode]]), REFUSED, JSON.stringify(mode));
  }
  for (const mode of ['same-origin', 'websocket', '']) t.equal(check([['Sec-Fetch-Mode', mode]]), undefined, JSON.stringify(mode));
});

t.test('a request with neither header passes', async (t) => {
  t.equal(check([]), undefined, 'a plain server-side request');
  t.equal(check([['Content-Type', 'application/json'], ['User-Agent', 'curl/8.5.0']], 'POST'), undefined, 'a POST from curl');
  // Without Sec-Fetch-Mode these say nothing a server-side client could not send; not a browser's mark.
  t.equal(check([['Referer', 'https://app.example/'], ['Sec-Fetch-Site', 'cross-site'], ['Access-Control-Request-Method', 'POST']], 'OPTIONS'), undefined, 'Referer, Sec-Fetch-Site, an ACRM alone');
  t.equal(check([['X-Origin', 'https://app.example'], ['Origin-Agent-Cluster', '?1']]), undefined, 'names that merely contain Origin');
});
