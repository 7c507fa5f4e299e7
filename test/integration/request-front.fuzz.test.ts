// Property test of the request front (SPEC §5, §7, §12): each case is one raw connection of 1-3 pipelined
// requests (random methods, paths, credentials, spoofed identity/override headers, 0-1100 header lines, odd
// framing, bodies holding a second request); the upstream may parse only requests sent on a request line,
// each stamped with the presenting key's tenant and a fresh request id and answered to a client that
// waited; a normal GET still gets 200 after.
// Larger: FUZZ_RUNS=2000 FUZZ_SEED=$RANDOM npx tap --disable-coverage <this file> (FUZZ_SHRINK=1 shrinks a failure).
import net from 'node:net';
import fc from 'fast-check';
import t from 'tap';
import { startProxy, type TestProxy } from '../helpers/start-proxy.js';
import { credentialsYaml, bearer, type KeySpec } from '../helpers/credentials.js';
import { request } from '../helpers/http-client.js';
import { startParsingUpstream, linesOf, type ParsedRequest, type ParsingUpstream } from '../helpers/parsing-upstream.js';
import { fuzzCase, renderCase, type FuzzCase, type FuzzKey, type SentRequest } from '../helpers/fuzz-requests.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 1305);
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 400);
const SHRINK = process.env['FUZZ_SHRINK'] === '1';
/** every wait on a socket or on the upstream is bounded by this */
const WAIT_MS = 2000;
/** how long a connection waits for the proxy's next byte before it ends (50 ms once every request is answered) */
const HOLD_IDLE_MS = 250;
const REQUEST_ID = /^req_[0-9a-f]{32}$/;
const OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-method', 'x-original-url', 'x-rewrite-url'];

const a: KeySpec & FuzzKey = { keyId: 'ck_test_fuzz_alpha', tenant: 'tnt_alpha', secret: 'sk_test_fuzz_alpha_secret' };
const b: KeySpec & FuzzKey = {
  keyId: 'ck_test_fuzz_beta',
  tenant: 'tnt_beta',
  secret: 'sk_test_fuzz_beta_secret',
  permissions: [{ methods: ['GET'], paths: ['/v1/reports/**'] }],
};

let upstream: ParsingUpstream;
let proxy: TestProxy;
let caseNo = 0;
/** every request sent in this run by its marker (a late arrival is checked against its own case) */
const allSent = new Map<string, SentRequest>();
/** every X-Request-Id and marker the upstream has seen in this run */
const seenIds = new Set<string>();
const seenMarkers = new Set<string>();
const stats = { statuses: new Map<string, number>(), forwarded: 0, answered: 0 };

t.before(async () => {
  upstream = await startParsingUpstream();
  const yaml = credentialsYaml([{ id: a.tenant }, { id: b.tenant }], [a, b]);
  proxy = await startProxy({ upstreamUrl: upstream.url, credentialsYaml: yaml });
});
t.teardown(async () => {
  await proxy.close();
  await upstream.close();
});

/**
 * Writes the case's bytes on one connection; returns what the proxy sent back. `half-close-now` ends the
 * writing side at once (Node's server then answers nothing more: a client gone mid-flight). The others
 * wait until every request is answered (then 50 ms more) or the proxy was silent for HOLD_IDLE_MS, then
 * half-close and read until the proxy closes, or close. Everything within WAIT_MS.
 */
function exchange(bytes: Buffer, ending: FuzzCase['ending'], requests: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(proxy.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let ended = ending === 'half-close-now';
    const finish = (): void => {
      clearTimeout(cap);
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const cap = setTimeout(finish, WAIT_MS);
    const answered = (): void => {
      if (ending === 'close-later') return finish();
      ended = true;
      socket.end();
    };
    const idle = (ms: number): void => {
      clearTimeout(timer);
      if (!ended) timer = setTimeout(answered, ms);
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      idle(responseHeads(Buffer.concat(chunks).toString('latin1')).length >= requests ? 50 : HOLD_IDLE_MS);
    });
    socket.once('close', finish);
    socket.on('error', () => undefined); // a reset while writing after a 431: 'close' follows
    socket.write(bytes, () => (ended ? socket.end() : idle(HOLD_IDLE_MS)));
  });
}

/**
 * The complete response heads in what the proxy sent. Bodies here are JSON and never hold a status line,
 * so heads are found by their status lines (a HEAD response declares a length it does not send, which a
 * length-walking parser would misread); a head cut off by the end of the wait is left out.
 */
function responseHeads(text: string): string[] {
  const starts = [...text.matchAll(/HTTP\/1\.[01] \d{3} /g)].map((m) => m.index);
  return starts.flatMap((at) => {
    const end = text.indexOf('\r\n\r\n', at);
    return end === -1 ? [] : [text.slice(at, end + 2)];
  });
}

const idLinesOf = (head: string): string[] => [...head.matchAll(/\r\nx-request-id:[ \t]*([^\r\n]*?)[ \t]*\r\n/gi)].map((m) => m[1] ?? '');

/** Would a servlet-style upstream resolve this path elsewhere (`.`/`..` before a `;`, %2e/%3b too, or `//`)? */
function resolvesElsewhere(url: string): boolean {
  const path = (url.split('?')[0] ?? '').replace(/%2e/gi, '.').replace(/%3b/gi, ';');
  const segs = path.split('/').slice(1);
  return segs.some((s, i) => {
    const name = s.split(';')[0] ?? '';
    return name === '.' || name === '..' || (name === '' && i < segs.length - 1);
  });
}

/** What is wrong with one request the upstream parsed, given what the client sent. */
function checkParsed(r: ParsedRequest, responseIds: ReadonlySet<string>, mustBeAnswered: boolean): string[] {
  const marker = /[?&]fz=(\d+x\d+)$/.exec(r.url)?.[1] ?? '';
  const s = allSent.get(marker);
  if (!s || s.method !== r.method || s.target !== r.url) return [`the upstream parsed ${r.method} ${r.url}, which the client never sent on a request line`];
  if (seenMarkers.has(marker)) return [`${r.method} ${r.url} reached the upstream twice`];
  seenMarkers.add(marker);
  if (!s.key) return [`${r.method} ${r.url} reached the upstream without exactly one valid credential`];
  const problems: string[] = [];
  const expect = (name: string, want: readonly string[]): void => {
    const got = linesOf(r, name);
    if (got.length !== want.length || got.some((v, i) => v !== want[i])) problems.push(`${name}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  };
  expect('x-tenant-id', [s.key.tenant]);
  expect('x-credential-id', [s.key.keyId]);
  expect('x-forwarded-for', ['127.0.0.1']);
  for (const name of OVERRIDES) expect(name, []);
  const ids = linesOf(r, 'x-request-id');
  const id = ids[0] ?? '';
  if (ids.length !== 1 || !REQUEST_ID.test(id)) problems.push(`X-Request-Id lines ${JSON.stringify(ids)}`);
  else if (s.clientRequestIds.includes(id) || seenIds.has(id)) problems.push(`X-Request-Id ${id} is the client's or was seen before`);
  seenIds.add(id);
  if (responseIds.has(id)) stats.answered++;
  else if (mustBeAnswered) problems.push(`the upstream got it (${id}) but the client got no response with that X-Request-Id`);
  if (s.key === b && (r.method !== 'GET' || !/^\/v1\/reports\/[^/?]/.test(r.url))) problems.push(`key b (GET /v1/reports/** only) got ${r.method} ${r.url} through`);
  if (resolvesElsewhere(r.url)) problems.push(`${r.url} has a dot or empty segment a servlet upstream would resolve`);
  return problems.map((p) => `${r.method} ${r.url}: ${p}`);
}

function checkCase(sent: readonly SentRequest[], parsed: readonly ParsedRequest[], reply: string, mustBeAnswered: boolean): string[] {
  const problems: string[] = [];
  if (parsed.length > sent.length) problems.push(`the upstream parsed ${parsed.length} requests, the client sent ${sent.length}`);
  const responseIds = new Set<string>();
  for (const head of responseHeads(reply)) {
    const ids = idLinesOf(head);
    if (ids.length !== 1 || !REQUEST_ID.test(ids[0] ?? '')) problems.push(`a response with X-Request-Id lines ${JSON.stringify(ids)}: ${JSON.stringify(head)}`);
    for (const id of ids) responseIds.add(id);
    const status = head.slice(9, 12);
    stats.statuses.set(status, (stats.statuses.get(status) ?? 0) + 1);
  }
  stats.forwarded += parsed.length;
  for (const r of parsed) problems.push(...checkParsed(r, responseIds, mustBeAnswered));
  return problems;
}

/** A normal authenticated GET on a fresh connection: undefined when it got 200, else what went wrong. */
async function healthProblem(path: string): Promise<string | undefined> {
  try {
    const r = await request(proxy.url, { path, headers: [['Authorization', bearer(a)]], timeoutMs: WAIT_MS });
    return r.status === 200 ? undefined : `the next normal GET got ${r.status} ${r.text}`;
  } catch (e) {
    return `the next normal GET failed: ${String(e)}`;
  }
}

async function runCase(c: FuzzCase): Promise<void> {
  const n = ++caseNo;
  const rendered = renderCase(c, n, a, b);
  for (const s of rendered.sent) allSent.set(s.marker, s);
  const reply = await exchange(rendered.bytes, c.ending, c.requests.length);
  // a request smuggled behind a forwarded one arrives right after it (and one arriving later still is
  // taken and checked together with the health request below)
  await upstream.quiet(20, WAIT_MS);

  const healthPath = `/v1/vaults?health=${n}`;
  const health = await healthProblem(healthPath);
  // A client that waited must get the answer to every request the upstream executed (a request pipelined
  // behind a refusal that closes the connection must not run); one that half-closed at once gave up.
  const strict = c.ending !== 'half-close-now';
  const problems = checkCase(rendered.sent, upstream.take().filter((r) => r.url !== healthPath), reply, strict);
  if (health) problems.push(health);
  if (problems.length > 0) throw new Error(`${problems.join('\n')}\nclient bytes: ${rendered.summary}\nproxy replied: ${JSON.stringify(reply.slice(0, 600))}`);
}

// The .taprc's 90 s per file fits the default run; a larger one asks the runner for more time.
if (RUNS * 150 > 60_000) t.setTimeout(RUNS * 150 + 30_000);

t.test('what the upstream parses comes only from checked requests, stamped by the proxy', async (t) => {
  t.comment(`FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} (reproduce: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} FUZZ_SHRINK=1 npx tap --disable-coverage test/integration/request-front.fuzz.test.ts)`);
  try {
    await fc.assert(fc.asyncProperty(fuzzCase, runCase), { seed: SEED, numRuns: RUNS, endOnFailure: !SHRINK });
    t.pass(`${RUNS} cases, no violation`);
  } catch (e) {
    // fast-check's message names the seed, path and counterexample; the property's own error is its cause
    const cause = e instanceof Error && e.cause instanceof Error ? `\n${e.cause.message}` : '';
    t.fail(`${e instanceof Error ? e.message : String(e)}${cause}`);
  }
  const statuses = [...stats.statuses].sort().map(([s, k]) => `${s}×${k}`).join(' ');
  t.comment(`client responses: ${statuses}; upstream requests: ${stats.forwarded} (${stats.answered} with the client's response id)`);
});
