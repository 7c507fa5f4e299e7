// The hand-written access-line encoder must give exactly JSON.stringify's bytes for every entry: the
// common ASCII fields, and every field that needs escaping or UTF-8, numbers on and off the fast path.
import t from 'tap';
import { accessFields, accessLineText, encodeAccessLine, type AccessEntry } from '../../../src/telemetry/access-line.js';
import { BatchedLines } from '../../../src/telemetry/access-writer.js';
import { ACCESS_LINES } from '../../../src/telemetry/access-line.js';

const base: AccessEntry = {
  level: 'info',
  time: 1_795_863_783_903,
  requestId: 'req_0123456789abcdef0123456789abcdef',
  method: 'GET',
  path: '/v1/vaults',
  status: 200,
  outcome: 'ok',
  reason: undefined,
  durationMs: 1.2345678,
  upstreamMs: 0.9876,
  tenant: 'tnt_a',
  keyId: 'ck_live_a',
  clientIp: '127.0.0.1',
};

function encoded(e: AccessEntry): string {
  const buf = Buffer.alloc(64 * 1024, 0xff);
  const end = encodeAccessLine(e, buf, 7, buf.length);
  if (end < 0) throw new Error('did not fit');
  // not asserted per call: the random test makes 10 000 of them
  if (buf[6] !== 0xff || buf[end] !== 0xff) throw new Error('wrote outside the line');
  return buf.toString('utf8', 7, end);
}

t.test('a typical line is JSON.stringify of the pino-shaped object', async (t) => {
  const text = encoded(base);
  t.equal(text, JSON.stringify(accessFields(base)));
  t.same(Object.keys(JSON.parse(text) as object), ['level', 'time', 'service', 'requestId', 'method', 'path', 'status', 'outcome', 'durationMs', 'upstreamMs', 'tenant', 'keyId', 'clientIp', 'msg']);
  t.match(text, /"durationMs":1\.235,"upstreamMs":0\.988,/);
});

t.test('optional fields: omitted when undefined, null client IP written as null, error level', async (t) => {
  const e: AccessEntry = { ...base, level: 'error', reason: 'connect_timeout', upstreamMs: undefined, tenant: undefined, keyId: undefined, clientIp: null };
  t.equal(encoded(e), JSON.stringify(accessFields(e)));
  const none: AccessEntry = { ...base, clientIp: undefined };
  t.notMatch(encoded(none), /clientIp/);
  t.equal(encoded(none), accessLineText(none));
});

t.test('reportOnly: written as true after reason when a report-only denial was let through, else omitted', async (t) => {
  const waived: AccessEntry = { ...base, reportOnly: true };
  t.equal(encoded(waived), JSON.stringify(accessFields(waived)));
  t.match(encoded(waived), /"outcome":"ok","reportOnly":true,"durationMs":/);
  for (const reportOnly of [false, undefined]) t.notMatch(encoded({ ...base, reportOnly }), /reportOnly/, `omitted for ${String(reportOnly)}`);
});

t.test('strings that need escaping or UTF-8 fall back to JSON.stringify for that field only', async (t) => {
  const paths = ['/a"b', '/a\\b', '/tab\there', '/nul\u0000', '/del\u007f', '/é', '/€', '/😀', '/lone\ud800', '/latin1\u00ff', '/\u2028', ''];
  for (const path of paths) {
    const e = { ...base, path, tenant: `t${path}`, reason: path };
    t.equal(encoded(e), JSON.stringify(accessFields(e)), encodeURIComponent(path.replace(/[\ud800-\udfff]/g, '?')));
  }
});

t.test('durations: whole numbers, trailing zeros, rounding up to the next unit, tiny, huge, NaN', async (t) => {
  const values = [0, -0, 0.0004, 0.0005, 0.001, 0.01, 0.1, 1, 2, 10, 1.5, 1.05, 1.005, 0.9999, 9.9995, 99.9996, 123456.789, 1e9 + 0.5, 2 ** 40, 2 ** 45 + 0.123, 1e21, -1.5, Number.NaN];
  for (const durationMs of values) {
    const e = { ...base, durationMs, upstreamMs: durationMs / 3 };
    t.equal(encoded(e), JSON.stringify(accessFields(e)), String(durationMs));
  }
  // off the integer fast path: not expected from Date.now() or a status code, still exact
  for (const n of [1.5, -1, 2 ** 53 + 2]) {
    const e = { ...base, time: n, status: n };
    t.equal(encoded(e), JSON.stringify(accessFields(e)), String(n));
  }
});

t.test('durations from the tables: every thousandth up to 20 ms, the 1000 ms step and the 1e9 fallback edge', async (t) => {
  const values: number[] = [];
  for (let k = 0; k < 20_000; k++) values.push(k / 1000, k / 1000 + 0.0004999, k / 1000 - 0.0004999);
  for (const whole of [999, 1000, 1001, 999_999, 1_000_000]) for (let f = -3; f <= 3; f++) values.push(whole + f / 1000);
  for (let k = 1e9 - 3; k <= 1e9 + 3; k++) values.push(k / 1000);
  let mismatches = 0;
  for (const durationMs of values) {
    const e = { ...base, durationMs, upstreamMs: durationMs };
    if (encoded(e) !== JSON.stringify(accessFields(e))) mismatches++;
  }
  t.equal(mismatches, 0, `${values.length} durations`);
});

t.test('the time is written afresh when it changes, and reused within its millisecond', async (t) => {
  for (const time of [1_795_882_250_940, 1_795_882_250_940, 1_795_882_250_941, 0, 1_795_882_250_941]) {
    const e = { ...base, time };
    t.equal(encoded(e), JSON.stringify(accessFields(e)), String(time));
  }
});

t.test('10 000 random entries match JSON.stringify byte for byte', async (t) => {
  // A small deterministic generator, so a failure can be reproduced.
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const alphabet = ['a', 'Z', '/', '-', '_', '.', '~', '%', '"', '\\', '\n', '\u0001', 'é', '€', '😀', '\ud83d', ' ', '\u007f'];
  const str = (max: number): string => {
    let s = '';
    const n = Math.floor(rand() * max);
    for (let i = 0; i < n; i++) s += rand() < 0.8 ? String.fromCharCode(0x21 + Math.floor(rand() * 94)) : (alphabet[Math.floor(rand() * alphabet.length)] ?? '');
    return s;
  };
  let mismatches = 0;
  for (let i = 0; i < 10_000; i++) {
    const e: AccessEntry = {
      level: rand() < 0.5 ? 'info' : 'error',
      time: Math.floor(rand() * 2 ** 45),
      requestId: str(40),
      method: str(8),
      path: str(120),
      status: Math.floor(rand() * 600),
      outcome: str(20),
      reason: rand() < 0.5 ? undefined : str(20),
      reportOnly: rand() < 0.2,
      durationMs: rand() * 10 ** Math.floor(rand() * 8),
      upstreamMs: rand() < 0.3 ? undefined : rand() * 1000,
      tenant: rand() < 0.3 ? undefined : str(20),
      keyId: rand() < 0.3 ? undefined : str(30),
      clientIp: rand() < 0.1 ? null : rand() < 0.1 ? undefined : str(40),
    };
    if (encoded(e) !== JSON.stringify(accessFields(e))) mismatches++;
  }
  t.equal(mismatches, 0);
});

t.test('nothing is written when the line might not fit; the batcher flushes first or writes it alone', async (t) => {
  const buf = Buffer.alloc(600, 0xff);
  t.equal(encodeAccessLine(base, buf, 590, buf.length), -1);
  t.ok(buf.every((b) => b === 0xff), 'buffer untouched');
  const writes: string[] = [];
  const batch = new BatchedLines({ write: (s: string) => writes.push(s) }, ACCESS_LINES);
  const huge: AccessEntry = { ...base, path: `/${'x'.repeat(20_000)}` };
  for (let i = 0; i < 100; i++) batch.write(base);
  batch.write(huge);
  batch.write(base);
  batch.close();
  const lines = writes.join('').split('\n');
  t.equal(lines.pop(), '', 'ends with a newline');
  t.equal(lines.length, 102);
  t.equal(lines[100], JSON.stringify(accessFields(huge)), 'a line too long for any batch goes out whole, in order');
  t.ok(lines.every((l, i) => i === 100 || l === JSON.stringify(accessFields(base))));
});
