// The store-loss marker (src/idempotency/store-marker.ts) against an in-memory backend, one poll at a
// time: a first start creates the marker; a vanished marker is a loss (refuse: written back as lost:, so
// other replicas refuse too; continue: a fresh epoch at once); an acknowledgement or the ttl ends it; a
// store that does not answer is not a loss.
import t from 'tap';
import { StoreMarker, type MarkerBackend } from '../../../src/idempotency/store-marker.js';

function backend(): MarkerBackend & { value: string | null; down: boolean } {
  const b = {
    value: null as string | null,
    down: false,
    async get() {
      if (b.down) throw new Error('down');
      return b.value;
    },
    async create(v: string) {
      if (b.down) throw new Error('down');
      b.value ??= v;
    },
    async set(v: string) {
      if (b.down) throw new Error('down');
      b.value = v;
    },
  };
  return b;
}

async function started(b: MarkerBackend, mode: 'refuse' | 'continue', ttlMs = 60_000) {
  const seen: string[] = [];
  const m = new StoreMarker(b, { mode, ttlMs, onLoss: (mode) => seen.push(mode) });
  await m.poll(); // creates
  await m.poll(); // adopts
  return { m, seen };
}

t.test('refuse: a vanished marker is one loss; every replica refuses until acknowledged', async (t) => {
  const b = backend();
  const { m, seen } = await started(b, 'refuse');
  const other = await started(b, 'refuse');
  t.match(b.value, /^ok:/, 'the first start created the marker');
  t.notOk(m.refusing);
  b.down = true;
  await m.poll();
  t.notOk(m.refusing, 'a store that does not answer is not a loss');
  b.down = false;
  b.value = null; // Redis restarted empty
  await m.poll();
  t.ok(m.refusing, 'refusing after the loss');
  t.same(seen, ['refuse'], 'counted once');
  t.match(b.value, /^lost:\d+$/, 'written back as lost, for the others');
  await other.m.poll();
  t.ok(other.m.refusing, 'another replica refuses too');
  t.same(other.seen, ['refuse'], 'and counts the loss it saw');
  await m.poll();
  t.same(seen, ['refuse'], 'still one loss');
  await other.m.acknowledge();
  t.notOk(other.m.refusing);
  await m.poll();
  t.notOk(m.refusing, 'the acknowledgement reaches every replica');
  t.same(seen, ['refuse'], 'an acknowledgement is not a loss');
});

t.test('refuse ends by itself once the ttl has passed since the loss', async (t) => {
  const b = backend();
  const { m } = await started(b, 'refuse', 50);
  b.value = `lost:${Date.now() - 100}`;
  await m.poll();
  t.notOk(m.refusing, 'past the ttl: acknowledged');
  t.match(b.value, /^ok:/);
});

t.test('continue: a loss is counted and a fresh epoch written at once', async (t) => {
  const b = backend();
  const { m, seen } = await started(b, 'continue');
  const before = b.value;
  b.value = null;
  await m.poll();
  t.notOk(m.refusing);
  t.same(seen, ['continue']);
  t.match(b.value, /^ok:/);
  t.not(b.value, before, 'a new epoch');
});

t.test('an epoch that changed between two polls is a loss this replica missed', async (t) => {
  const b = backend();
  const { m, seen } = await started(b, 'refuse');
  b.value = 'ok:someone-else';
  await m.poll();
  t.same(seen, ['refuse'], 'counted');
  t.notOk(m.refusing, 'but already acknowledged (or continued) by whoever wrote it');
});

t.test('after a reconnection claims wait until the marker was read on the new connection', async (t) => {
  const b = backend();
  const { m } = await started(b, 'refuse');
  t.ok(m.verified, 'verified once the marker was read');
  b.down = true;
  m.reconnected();
  t.notOk(m.verified, 'a new connection is not verified yet');
  t.equal(await m.whenVerified(50), false, 'a store that does not answer: not verified within the deadline');
  b.down = false;
  const waiting = m.whenVerified(5000);
  await m.poll();
  t.equal(await waiting, true, 'verified by the next read');
  t.ok(m.verified);
});

t.test('a Redis that came back empty is a loss before any claim on it', async (t) => {
  const b = backend();
  const { m, seen } = await started(b, 'refuse');
  b.value = null; // restarted without persistence
  m.reconnected(); // polls at once
  t.equal(await m.whenVerified(200), false, 'never verified');
  t.ok(m.refusing, 'refusing');
  t.same(seen, ['refuse'], 'the loss counted');
});
