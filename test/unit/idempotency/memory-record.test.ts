// The memory store's packed record: every completion round-trips exactly (binary bodies, latin1 and
// non-ASCII header values, empty parts, long strings, common and other header names, a body hash that is
// not hex), the fingerprint check sees every field, an unpacked completion shares no memory with the
// record, and encodedLength is exactly what writeRecord writes.
import t from 'tap';
import { encodedLength, expiresAtOf, sameFingerprint, unpackCompletion, writeRecord } from '../../../src/idempotency/memory-record.js';
import type { Completion, Fingerprint } from '../../../src/idempotency/store.js';

interface Packed {
  readonly buf: Buffer;
  readonly at: number;
  readonly length: number;
}

/** Written between guard bytes, as in a slab shared with other records; the guards must survive. */
function pack(fingerprint: Fingerprint, expiresAt: number, completion: Completion): Packed {
  const length = encodedLength(fingerprint, completion);
  const buf = Buffer.alloc(length + 14, 0xee);
  writeRecord(buf, 7, fingerprint, expiresAt, completion);
  return { buf, at: 7, length };
}

const guardsKept = (p: Packed): boolean =>
  p.buf.subarray(0, p.at).every((b) => b === 0xee) && p.buf.subarray(p.at + p.length).every((b) => b === 0xee);

const FP = { method: 'POST', target: '/v1/vaults?x=1&y=%2F', bodySha256: 'ab'.repeat(32) };
const EXPIRES = 1_795_851_000_123.5;
const LONG_FP = { method: 'PATCH', target: `/v1/${'caf\u00e9/'.repeat(40)}?q=\u2603`, bodySha256: '0f'.repeat(32) };
const TEXT_HASH_FP = { method: 'PUT', target: '/', bodySha256: 'AB'.repeat(32) };

const completions: ReadonlyArray<readonly [string, Completion]> = [
  ['a response with headers and a binary body', {
    kind: 'response',
    response: {
      status: 201,
      headers: [
        ['content-type', 'application/json'], ['x-latin1', 'caf\u00e9 \u00ff'], ['x-empty', ''], ['x-unicode', '\u2603 \ud83d\ude00'],
        ['link', `<${'l'.repeat(300)}>`], [`x-${'n'.repeat(140)}`, 'v'], ['traceparent', '00-ab-cd-01'],
      ],
      body: Buffer.from([0, 1, 2, 255, 254, 13, 10, 0]),
    },
  }],
  ['a response with no headers and an empty body', { kind: 'response', response: { status: 204, headers: [], body: Buffer.alloc(0) } }],
  ['response unavailable', { kind: 'response_unavailable' }],
  ['outcome unknown after a timeout', { kind: 'outcome_unknown', code: 'UPSTREAM_TIMEOUT' }],
  ['outcome unknown after a reset', { kind: 'outcome_unknown', code: 'UPSTREAM_OUTCOME_UNKNOWN' }],
];

for (const [name, completion] of completions) {
  t.test(`round trip: ${name}`, async (t) => {
    for (const fp of [FP, LONG_FP, TEXT_HASH_FP]) {
      const p = pack(fp, EXPIRES, completion);
      t.ok(guardsKept(p), 'wrote exactly encodedLength bytes');
      t.equal(expiresAtOf(p.buf, p.at), EXPIRES, 'expiry kept exactly');
      t.ok(sameFingerprint(p.buf, p.at, fp), 'same fingerprint');
      t.same(unpackCompletion(p.buf, p.at, p.length), completion, 'completion kept exactly');
    }
  });
}

t.test('every fingerprint field is compared', async (t) => {
  const { buf, at } = pack(FP, EXPIRES, { kind: 'response_unavailable' });
  t.notOk(sameFingerprint(buf, at, { ...FP, method: 'PUT' }), 'method');
  t.notOk(sameFingerprint(buf, at, { ...FP, target: '/v1/vaults?x=1&y=%2f' }), 'target');
  t.notOk(sameFingerprint(buf, at, { ...FP, bodySha256: 'ac'.repeat(32) }), 'body hash');
  t.notOk(sameFingerprint(buf, at, { ...FP, bodySha256: `${'ab'.repeat(31)}aa` }), 'the last hash byte');
  t.notOk(sameFingerprint(buf, at, { ...FP, bodySha256: 'AB'.repeat(32) }), 'the hash in capitals is another hash');
  t.notOk(sameFingerprint(buf, at, { ...FP, target: `${FP.target}x` }), 'a longer target');
  const long = pack(LONG_FP, EXPIRES, { kind: 'response_unavailable' });
  t.notOk(sameFingerprint(long.buf, long.at, { ...LONG_FP, target: LONG_FP.target.replace('\u2603', '\u2604') }), 'a non-ASCII target');
  const text = pack(TEXT_HASH_FP, EXPIRES, { kind: 'response_unavailable' });
  t.notOk(sameFingerprint(text.buf, text.at, { ...TEXT_HASH_FP, bodySha256: 'ab'.repeat(32) }), 'a hash kept as text');
});

t.test('neither the caller\'s body nor a replayed body can change the record', async (t) => {
  const body = Buffer.from('original');
  const { buf, at, length } = pack(FP, EXPIRES, { kind: 'response', response: { status: 200, headers: [], body } });
  body.write('XXXXXXXX');
  const first = unpackCompletion(buf, at, length);
  if (first.kind === 'response') first.response.body.write('YYYYYYYY');
  const again = unpackCompletion(buf, at, length);
  t.equal(again.kind === 'response' ? again.response.body.toString() : '', 'original');
});
