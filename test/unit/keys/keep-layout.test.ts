// keepLayout: unchanged lines come back as the original wrote them; the data is always the edited data.
import t from 'tap';
import { parse } from 'yaml';
import { keepLayout } from '../../../src/keys/keep-layout.js';

t.test('inline comment spacing and a comment after key: come back from the original', async (t) => {
  const original = 'a: 1      # one\nb:   # about b\n  - x\nc: 3\n';
  const edited = 'a: 1 # one\nb:\n  # about b\n  - x\nc: 4\n';
  t.equal(keepLayout(original, edited), 'a: 1      # one\nb:   # about b\n  - x\nc: 4\n');
});

t.test('a changed line keeps its comment column, or its spacing when it grew past it', async (t) => {
  t.equal(keepLayout('s: active     # why\n', 's: revoked # why\n'), 's: revoked    # why\n');
  t.equal(keepLayout('s: a  # why\n', 's: much longer # why\n'), 's: much longer  # why\n');
});

t.test('a quoted "  #" that normalising would confuse never changes the data', async (t) => {
  const original = 'label: "x   # y"\n';
  const edited = 'label: "x # y"\n';
  t.equal(keepLayout(original, edited), edited, 'the edited text, not the original line');
});

t.test('a huge middle keeps the library layout there, and the data', async (t) => {
  const lines = Array.from({ length: 2500 }, (_, i) => `k${i}: ${i}   # c${i}`);
  const original = `${lines.join('\n')}\n`;
  const editedLines = lines.map((l) => l.replace('   #', ' #'));
  editedLines[0] = 'k0: first #  c0';
  editedLines[2499] = 'k2499: last # c2499';
  const edited = `${editedLines.join('\n')}\n`;
  const out = keepLayout(original, edited);
  t.same(parse(out), parse(edited), 'the edited data');
});
