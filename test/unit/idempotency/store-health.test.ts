// StoreHealth: a scrape or probe never waits for a stalled store longer than its short wait, reports
// the last known state meanwhile, and follows the store once a ping settles; one ping at a time.
import t from 'tap';
import { StoreHealth } from '../../../src/idempotency/store-health.js';

/** A store whose pings settle only when the test says so. */
function heldPings() {
  const pending: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  return {
    pending,
    store: { ping: () => new Promise<void>((resolve, reject) => void pending.push({ resolve, reject })) },
  };
}

t.test('an answer within the wait is the answer', async (t) => {
  const states: boolean[] = [];
  const health = new StoreHealth({ ping: async () => {} }, (up) => states.push(up));
  t.equal(await health.check(1000), true);
  const failing = new StoreHealth({ ping: async () => { throw new Error('down'); } }, (up) => states.push(up));
  t.equal(await failing.check(1000), false);
  t.same(states, [true, false], 'each settled ping reports its state');
});

t.test('a stalled ping: the last known state after the wait, the new one once it settles', async (t) => {
  const { pending, store } = heldPings();
  const states: boolean[] = [];
  const health = new StoreHealth(store, (up) => states.push(up));
  const started = Date.now();
  t.equal(await health.check(50), true, 'nothing known yet: up');
  t.ok(Date.now() - started < 900, 'did not wait for the ping');
  t.equal(await health.check(20), true, 'still the last known state');
  t.equal(pending.length, 1, 'the second check joined the ping in flight');
  pending[0]?.reject(new Error('timeout'));
  await new Promise((resolve) => setImmediate(resolve));
  t.same(states, [false], 'the failed ping is reported when it settles');
  t.equal(await health.check(20), false, 'a new ping, still stalled: the last known state, down');
  t.equal(pending.length, 2, 'a new ping once the first settled');
  pending[1]?.resolve();
  t.equal(await health.check(20), true, 'answered: up again');
});
