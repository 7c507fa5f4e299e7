// The access-line batcher: lines leave whole, in order and byte-exact, in batches of at most 64 KiB.
import t from 'tap';
import { BatchedLines, TEXT_LINES } from '../../../src/telemetry/access-writer.js';

class Recorder {
  readonly writes: string[] = [];
  write(text: string): void {
    this.writes.push(text);
  }
  get text(): string {
    return this.writes.join('');
  }
}

t.test('lines come out whole, in order, one per line, non-ASCII intact, nothing before a flush', async (t) => {
  const dest = new Recorder();
  const batch = new BatchedLines(dest, TEXT_LINES);
  const lines = ['{"a":1}', '{"path":"/v1/vaults/é€😀"}', '{"b":"x"}'];
  for (const l of lines) batch.write(l);
  t.same(dest.writes, [], 'batched, not written per line');
  batch.close();
  t.equal(dest.writes.length, 1, 'one write per batch');
  t.equal(dest.text, `${lines.join('\n')}\n`);
});

t.test('a full batch is written before the line that would not fit, and the buffer is reused', async (t) => {
  const dest = new Recorder();
  const batch = new BatchedLines(dest, TEXT_LINES);
  const expected: string[] = [];
  // 5000 lines of ~100 bytes: several batches of at most 64 KiB
  for (let i = 0; i < 5000; i++) {
    const line = `{"i":${i},"pad":"${'x'.repeat(80)}","u":"ü"}`;
    expected.push(line);
    batch.write(line);
  }
  batch.close();
  t.ok(dest.writes.length >= 7, `${dest.writes.length} writes`);
  for (const w of dest.writes) t.ok(Buffer.byteLength(w) <= 64 * 1024, 'no batch exceeds 64 KiB');
  for (const w of dest.writes) t.ok(w.endsWith('\n'), 'batches end at a line boundary');
  t.equal(dest.text, `${expected.join('\n')}\n`, 'every line, in order, bytes intact across reuses of the buffer');
});

t.test('a line longer than a batch is written by itself, after what came before it', async (t) => {
  const dest = new Recorder();
  const batch = new BatchedLines(dest, TEXT_LINES);
  const long = `{"long":"${'€'.repeat(30_000)}"}`;
  batch.write('{"first":1}');
  batch.write(long);
  batch.write('{"last":1}');
  batch.close();
  t.same(dest.writes, ['{"first":1}\n', `${long}\n`, '{"last":1}\n']);
});

t.test('flush with nothing pending writes nothing', async (t) => {
  const dest = new Recorder();
  const batch = new BatchedLines(dest, TEXT_LINES);
  batch.flush();
  batch.close();
  t.same(dest.writes, []);
});
