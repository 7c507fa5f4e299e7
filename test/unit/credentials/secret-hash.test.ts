// Secret hashing (SPEC §4, §5): formatSecretHash is `sha256:<64 lowercase hex>` of the UTF-8 secret,
// checked against an independent createHash; secretMatches accepts only the right secret and never
// matches the dummy digest used for unknown key ids, not even for an empty secret.
import t from 'tap';
import { createHash } from 'node:crypto';
import { digestOf, formatSecretHash, secretMatches, SECRET_HASH_PATTERN, sha256 } from '../../../src/credentials/secret-hash.js';

const independent = (secret: string): string => createHash('sha256').update(Buffer.from(secret, 'utf8')).digest('hex');

t.test('formatSecretHash is sha256:<hex of SHA-256 over the UTF-8 bytes>', async (t) => {
  for (const secret of ['sk_live_abc', '', 'päss wörd 🔑', 'x'.repeat(1000)]) {
    const h = formatSecretHash(secret);
    t.equal(h, `sha256:${independent(secret)}`, JSON.stringify(secret.slice(0, 20)));
    t.match(h, /^sha256:[0-9a-f]{64}$/);
    t.ok(SECRET_HASH_PATTERN.test(h), 'accepted by the document pattern');
  }
  // A known vector: SHA-256("abc").
  t.equal(formatSecretHash('abc'), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  // UTF-8, not latin1/UTF-16: "é" is c3 a9.
  t.equal(formatSecretHash('é'), `sha256:${createHash('sha256').update(Buffer.from([0xc3, 0xa9])).digest('hex')}`);
  t.same(sha256('abc'), createHash('sha256').update('abc').digest());
});

t.test('digestOf turns the text into the 32 digest bytes', async (t) => {
  const d = digestOf(formatSecretHash('s'));
  t.equal(d.length, 32);
  t.equal(d.toString('hex'), independent('s'));
});

t.test('secretMatches', async (t) => {
  const stored = digestOf(formatSecretHash('sk_test_right'));
  t.equal(secretMatches('sk_test_right', stored), true, 'right secret');
  t.equal(secretMatches('sk_test_wrong', stored), false, 'wrong secret');
  t.equal(secretMatches('sk_test_righ', stored), false, 'prefix of the secret');
  t.equal(secretMatches('sk_test_right ', stored), false, 'trailing space');
  t.equal(secretMatches('', stored), false, 'empty secret');
  const empty = digestOf(formatSecretHash(''));
  t.equal(secretMatches('', empty), true, 'an empty secret matches its own hash');
});

t.test('the dummy digest (unknown key id) never matches', async (t) => {
  for (const s of ['', 'x', 'sk_test_right', 'dummy']) t.equal(secretMatches(s, undefined), false, JSON.stringify(s));
});

t.test('secretMatches is exact for digests holding every byte value (the digest passes through a latin1 string)', async (t) => {
  const seen = new Set<number>();
  let mismatches = 0;
  for (let i = 0; i < 2000; i++) {
    const secret = `sk_live_${i}_${'é'.repeat(i % 5)}`;
    const stored = createHash('sha256').update(secret, 'utf8').digest();
    for (const b of stored) seen.add(b);
    if (!secretMatches(secret, stored)) mismatches++;
    const flipped = Buffer.from(stored);
    flipped[i % 32] = (flipped[i % 32] ?? 0) ^ 0x80;
    if (secretMatches(secret, flipped)) mismatches++;
  }
  t.equal(seen.size, 256, 'the digests covered all 256 byte values');
  t.equal(mismatches, 0, 'right secrets match, a digest with one flipped high bit never does');
});
