// The memory store's packed record: every completion round-trips exactly (binary bodies, latin1 and
// non-ASCII header values, empty parts), the fingerprint check sees every field, and an unpacked
// completion shares no memory with the record, and a record is never a slice of the shared buffer pool.
import t from 'tap';
import { expiresAtOf, packRecord, sameFingerprint, unpackCompletion } from '../../../src/idempotency/memory-record.js';
import type { Completion } from '../../../src/idempotency/store.js';

const FP = { method: 'POST', target: '/v1/vaults?x=1&y=%2F', bodySha256: 'ab'.repeat(32) };
const EXPIRES = 1_795_851_000_123.5;

const completions: ReadonlyArray<readonly [string, Completion]> = [
  ['a response with headers and a binary body', {
    kind: 'response',
    response: {
      status: 201,
      headers: [['content-type', 'application/json'], ['x-latin1', 'caf\u00e9 \u00ff'], ['x-empty', ''], ['x-unicode', '\u2603 \ud83d\ude00']],
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
    const packed = packRecord(FP, EXPIRES, completion);
    t.equal(expiresAtOf(packed), EXPIRES, 'expiry kept exactly');
    t.ok(sameFingerprint(packed, FP), 'same fingerprint');
    t.same(unpackCompletion(packed), completion, 'completion kept exactly');
  });
}

t.test('every fingerprint field is compared', async (t) => {
  const packed = packRecord(FP, EXPIRES, { kind: 'response_unavailable' });
  t.notOk(sameFingerprint(packed, { ...FP, method: 'PUT' }), 'method');
  t.notOk(sameFingerprint(packed, { ...FP, target: '/v1/vaults?x=1&y=%2f' }), 'target');
  t.notOk(sameFingerprint(packed, { ...FP, bodySha256: 'ac'.repeat(32) }), 'body hash');
  t.notOk(sameFingerprint(packed, { ...FP, target: `${FP.target}x` }), 'a longer target');
});

t.test('neither the caller\'s body nor a replayed body can change the record', async (t) => {
  const body = Buffer.from('original');
  const packed = packRecord(FP, EXPIRES, { kind: 'response', response: { status: 200, headers: [], body } });
  body.write('XXXXXXXX');
  const first = unpackCompletion(packed);
  if (first.kind === 'response') first.response.body.write('YYYYYYYY');
  const again = unpackCompletion(packed);
  t.equal(again.kind === 'response' ? again.response.body.toString() : '', 'original');
});

t.test('a record owns its memory: never a slice of Node\'s shared buffer pool, which it would keep alive', async (t) => {
  for (const [what, completion] of completions) {
    const record = packRecord(FP, EXPIRES, completion);
    t.equal(record.byteOffset, 0, `${what}: starts its own memory`);
    t.equal(record.buffer.byteLength, record.length, `${what}: and holds nothing else`);
  }
});
