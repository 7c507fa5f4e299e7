// Idempotency-Key header parsing (SPEC §9): bare and quoted forms, limits, and rejected shapes.
import t from 'tap';
import { parseIdempotencyKey } from '../../../src/idempotency/key-parse.js';

const key = (k: string) => ({ kind: 'key', key: k });
const INVALID = { kind: 'invalid' };

t.test('absent', async (t) => {
  t.same(parseIdempotencyKey(undefined), { kind: 'absent' });
  t.same(parseIdempotencyKey(null), { kind: 'absent' });
  t.same(parseIdempotencyKey([]), { kind: 'absent' });
});

t.test('bare keys', async (t) => {
  t.same(parseIdempotencyKey(['abc']), key('abc'));
  t.same(parseIdempotencyKey(['a']), key('a'), 'one character');
  t.same(parseIdempotencyKey(['x'.repeat(255)]), key('x'.repeat(255)), '255 characters');
  const visible = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => c !== '"').join('');
  t.same(parseIdempotencyKey([visible]), key(visible), 'every visible ASCII character but DQUOTE');
  t.same(parseIdempotencyKey(['  abc\t']), key('abc'), 'surrounding whitespace is not part of the value');
  t.same(parseIdempotencyKey(['a,b']), key('a,b'), 'a comma is just a character');
  t.same(parseIdempotencyKey(['a\\b']), key('a\\b'), 'a backslash is just a character in the bare form');
});

t.test('quoted keys are the same keys', async (t) => {
  t.same(parseIdempotencyKey(['"abc"']), parseIdempotencyKey(['abc']));
  t.same(parseIdempotencyKey(['"a\\"b\\\\c"']), key('a"b\\c'), 'escapes');
  t.same(parseIdempotencyKey(['"a b"']), key('a b'), 'SP is allowed inside an sf-string');
  t.same(parseIdempotencyKey([`"${'x'.repeat(255)}"`]), key('x'.repeat(255)), '255 characters once unquoted');
  t.same(parseIdempotencyKey([`"${'\\"'.repeat(255)}"`]), key('"'.repeat(255)), 'the limit counts unescaped characters');
});

t.test('invalid', async (t) => {
  const cases: Record<string, string[]> = {
    'empty': [''],
    'only whitespace': ['   '],
    'empty quoted': ['""'],
    'quoted spaces only': ['"   "'],
    'too long': ['x'.repeat(256)],
    'too long quoted': [`"${'x'.repeat(256)}"`],
    'two header lines': ['a', 'b'],
    'two identical lines': ['a', 'a'],
    'space in bare form': ['a b'],
    'tab inside': ['a\tb'],
    'NUL': ['a\u0000b'],
    'newline': ['a\nb'],
    'DEL': ['a\u007fb'],
    'non-ASCII (latin1 byte)': ['caf\u00e9'],
    'non-ASCII in quotes': ['"caf\u00e9"'],
    'control char in quotes': ['"a\u0001"'],
    'unterminated quote': ['"abc'],
    'lone quote': ['"'],
    'quote inside bare': ['ab"c'],
    'trailing quote only': ['abc"'],
    'text after closing quote': ['"abc"def'],
    'sf parameters': ['"abc";p=1'],
    'two quoted strings': ['"a", "b"'],
    'bad escape': ['"a\\nb"'],
    'escape at end': ['"abc\\"'],
    'tab in quotes': ['"a\tb"'],
  };
  for (const [name, values] of Object.entries(cases)) t.same(parseIdempotencyKey(values), INVALID, name);
});
