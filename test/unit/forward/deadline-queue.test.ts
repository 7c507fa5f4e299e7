// The deadline queue (src/forward/deadline-queue.ts): entries expire in order once their deadline has
// passed, each exactly once; a removed entry never expires; one timer serves the queue and is re-armed
// for the next oldest; close() stops it.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { DeadlineQueue, type Deadlined } from '../../../src/forward/deadline-queue.js';

interface Entry extends Deadlined<Entry> {
  readonly name: string;
}

const entry = (name: string, inMs: number): Entry => ({ name, deadline: performance.now() + inMs, prev: undefined, next: undefined, queued: false });

t.test('entries expire in deadline order, each once, and only after their deadline', async (t) => {
  const expired: Array<[string, number]> = [];
  const q = new DeadlineQueue<Entry>((e) => expired.push([e.name, performance.now() - e.deadline]));
  t.teardown(() => q.close());
  const a = entry('a', 20);
  const b = entry('b', 40);
  const c = entry('c', 600);
  q.add(a);
  q.add(b);
  q.add(c);
  await sleep(150);
  t.same(expired.map(([n]) => n), ['a', 'b'], 'a and b expired, c not yet');
  await sleep(600);
  t.same(expired.map(([n]) => n), ['a', 'b', 'c'], 'then c; never twice');
  for (const [name, late] of expired) t.ok(late >= 0, `${name} not before its deadline`);
  t.equal(a.queued || b.queued || c.queued, false, 'expired entries left the queue');
});

t.test('a removed entry never expires, also the head, and the links are cleared', async (t) => {
  const expired: string[] = [];
  const q = new DeadlineQueue<Entry>((e) => expired.push(e.name));
  t.teardown(() => q.close());
  const a = entry('a', 20);
  const b = entry('b', 30);
  const c = entry('c', 40);
  q.add(a);
  q.add(b);
  q.add(c);
  q.remove(a);
  q.remove(b);
  q.remove(b);
  t.equal(a.next, undefined, 'links cleared');
  t.equal(b.prev, undefined);
  await sleep(80);
  t.same(expired, ['c'], 'only c');
});

t.test('an entry added after the queue ran empty re-arms the timer; close() stops it', async (t) => {
  const expired: string[] = [];
  const q = new DeadlineQueue<Entry>((e) => expired.push(e.name));
  q.add(entry('a', 10));
  await sleep(40);
  q.add(entry('b', 10));
  await sleep(40);
  t.same(expired, ['a', 'b']);
  q.add(entry('c', 10));
  q.close();
  await sleep(40);
  t.same(expired, ['a', 'b'], 'nothing expires after close()');
});
