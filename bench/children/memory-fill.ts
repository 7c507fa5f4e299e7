// One measurement of `npm run bench`'s memory step (bench/memory.ts), in a fresh `node --expose-gc`:
// fills a MemoryStore through its real API (claim, then complete) with records of a 1 KiB body and six
// response headers, collects garbage, and prints one JSON line of what the process grew by, against what
// the store charged to maxBytes. argv[2]: JSON { maxEntries, maxBytes, records }.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import { sha256Hex } from '../../src/idempotency/fingerprint.js';
import { MemoryStore } from '../../src/idempotency/memory-store.js';
import type { Completion } from '../../src/idempotency/store.js';

const { maxEntries, maxBytes, records } = JSON.parse(process.argv[2] ?? '{}') as { maxEntries: number; maxBytes: number; records: number };
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const collect = gc;
const TEMPLATE = Buffer.alloc(1024, 'x');
const TENANT = 'tenant-0001';

async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    collect();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function completionFor(key: string): Completion {
  const body = Buffer.from(TEMPLATE);
  body.write(`{"id":"${key}"`);
  const headers: Array<readonly [string, string]> = [
    ['content-type', 'application/json; charset=utf-8'], ['etag', `W/"400-${key.slice(0, 27)}"`],
    ['cache-control', 'no-store'], ['location', `/v1/vaults/${key}`], ['x-upstream-request-id', key], ['vary', 'accept-encoding'],
  ];
  return { kind: 'response', response: { status: 201, headers, body } };
}

async function fill(store: MemoryStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const key = randomUUID();
    const fingerprint = { method: 'POST', target: '/v1/vaults', bodySha256: sha256Hex(key) };
    const claim = await store.claim(TENANT, key, fingerprint, { ttlMs: 300_000, leaseMs: 30_000 });
    if (claim.kind !== 'claimed') throw new Error(`expected claimed, got ${claim.kind}`);
    await store.complete(TENANT, key, claim.token, completionFor(key));
  }
}

const newSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;

// V8 maps its heap in 256 KiB pages, each an anonymous mapping of its own: their resident bytes are what
// the heap costs in RSS, which heapTotal undercounts when V8 keeps freed pages for reuse (Node 24).
const V8_PAGE_KIB = 256;
function v8PagesRss(): number {
  let kib = 0;
  for (const block of readFileSync('/proc/self/smaps', 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)[ \t]*(\S*)/.exec(block);
    if (!header || header[3] !== '0' || header[4] !== '') continue;
    if ((parseInt(header[2] ?? '0', 16) - parseInt(header[1] ?? '0', 16)) / 1024 !== V8_PAGE_KIB) continue;
    kib += Number(/\nRss:\s+(\d+) kB/.exec(block)?.[1] ?? 0);
  }
  return kib * 1024;
}

// A warm-up through a store of its own, then dropped: compiled code and the young generation's size are
// the process's, not the records'; the young generation (semi-spaces) is still reported on its own.
const warm = new MemoryStore({ maxEntries, maxBytes });
await fill(warm, 20_000);
await warm.close();
const store = new MemoryStore({ maxEntries, maxBytes });
await settle();
const before = { ...process.memoryUsage(), newSpace: newSpace(), v8Pages: v8PagesRss() };
await fill(store, records);
await settle();
const after = { ...process.memoryUsage(), newSpace: newSpace(), v8Pages: v8PagesRss() };
process.stdout.write(`${JSON.stringify({
  node: process.version,
  offered: records,
  kept: store.size.completed,
  chargedBytes: store.size.completedBytes,
  maxBytes,
  rssGrowth: after.rss - before.rss,
  heapUsedGrowth: after.heapUsed - before.heapUsed,
  heapTotalGrowth: after.heapTotal - before.heapTotal,
  externalGrowth: after.external - before.external,
  arrayBuffersGrowth: after.arrayBuffers - before.arrayBuffers,
  newSpaceGrowth: after.newSpace - before.newSpace,
  newSpace: after.newSpace,
  v8PagesRssGrowth: after.v8Pages - before.v8Pages,
})}\n`);
await store.close();
