// The fault schedule: rounds in which every kind of fault happens once, in a seeded order, one at a
// time (so an outcome can be attributed to one fault), with fault-free traffic between them. After
// each fault ends, every replica is probed with fresh keyed requests until it executes one: that is
// the recovery time. When a fault "ends": a replica fault once the restarted process serves again;
// a stall at SIGCONT; a Redis restart once Redis answers (continue) or once the operator acknowledged
// the loss (refuse: keyed requests are refused until then, as designed); a reset window at its end.
import { setTimeout as sleep } from 'node:timers/promises';
import { bearer } from '../../test/helpers/credentials.js';
import { request } from '../../test/helpers/http-client.js';
import type { PrivateRedis } from '../../test/helpers/redis-server.js';
import { ADMIN_TOKEN, PROBE, type Replica } from './cluster.js';
import type { Clients } from './clients.js';
import type { ChaosOptions } from './options.js';
import type { Upstream } from './upstream.js';

export const FAULT_KINDS = ['replica-kill', 'replica-term', 'redis-stall', 'redis-restart', 'upstream-reset'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const RECOVERY_LIMIT_MS = 2000;
const PROBE_GIVE_UP_MS = 15_000;
const RESET_WINDOW_MS = 3000;
const RESET_SHARE = 0.5;

export interface Fault {
  readonly kind: FaultKind;
  /** the replica slot, for replica faults */
  readonly slot: number | undefined;
  readonly start: number;
  end: number;
  /** ms from the fault's end until each replica executed a probe; null: not within 15 s */
  recoveryMs: Array<number | null>;
  /** what happened, e.g. "stall 10.0 s" or "loss seen by 3/3 replicas" */
  note: string;
  /** redis-restart only: every running replica counted the loss */
  detected?: boolean;
}

export interface World {
  readonly options: ChaosOptions;
  readonly random: () => number;
  readonly redis: PrivateRedis;
  readonly replicas: readonly Replica[];
  readonly upstream: Upstream;
  readonly clients: Clients;
  readonly log: (line: string) => void;
  /** the run's start, for the relative times printed */
  readonly t0: number;
}

/** Times of SIGKILLs per slot and of Redis data losses, for classify.ts. */
export interface FaultLog {
  readonly faults: Fault[];
  readonly kills: Array<{ slot: number; at: number }>;
  /** from the SIGTERM to Redis until the empty Redis answers: the data went somewhere in between */
  readonly losses: Array<{ from: number; to: number }>;
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Runs rounds of faults until `until`; the first round always completes, so every kind happens. */
export async function runFaults(world: World, until: number): Promise<FaultLog> {
  const log: FaultLog = { faults: [], kills: [], losses: [] };
  let stalls = 0;
  for (let round = 0; round === 0 || Date.now() < until; round++) {
    for (const kind of shuffle(FAULT_KINDS, world.random)) {
      if (round > 0 && Date.now() >= until) break;
      await sleep(1000 + Math.floor(world.random() * 2000)); // fault-free traffic in between
      const fault = await inject(world, log, kind, kind === 'redis-stall' ? stalls++ : 0);
      fault.recoveryMs = await Promise.all(world.replicas.map((r) => probeUntilServing(r, fault.end)));
      log.faults.push(fault);
      const rec = fault.recoveryMs.map((ms) => (ms === null ? 'none' : `${ms}`)).join('/');
      const at = `${((fault.start - world.t0) / 1000).toFixed(1)}-${((fault.end - world.t0) / 1000).toFixed(1)} s`;
      world.log(`  ${at.padEnd(13)} ${kind.padEnd(14)} ${fault.note}; recovery ms per replica ${rec}`);
    }
  }
  return log;
}

async function inject(world: World, log: FaultLog, kind: FaultKind, stallIndex: number): Promise<Fault> {
  const slot = Math.floor(world.random() * world.replicas.length);
  const replica = world.replicas[slot];
  if (!replica) throw new Error(`no replica ${slot}`);
  const fault: Fault = { kind, slot: undefined, start: Date.now(), end: 0, recoveryMs: [], note: '' };
  switch (kind) {
    case 'replica-kill':
    case 'replica-term': {
      const signal = kind === 'replica-kill' ? 'SIGKILL' : 'SIGTERM';
      const pid = replica.pid;
      if (signal === 'SIGKILL') log.kills.push({ slot, at: Date.now() });
      await replica.stop(signal);
      const exited = Date.now();
      await replica.start();
      Object.assign(fault, { slot });
      fault.note = `${signal} replica ${slot} (pid ${pid}), down ${((Date.now() - exited) / 1000).toFixed(1)} s`;
      break;
    }
    case 'redis-stall': {
      // The first stall of a run is the longest allowed, so every run covers the worst case.
      const ms = stallIndex === 0 ? world.options.maxStallS * 1000 : 1000 + Math.floor(world.random() * (world.options.maxStallS - 1) * 1000);
      world.redis.pause();
      await sleep(ms);
      world.redis.resume();
      fault.note = `SIGSTOP Redis ${(ms / 1000).toFixed(1)} s`;
      break;
    }
    case 'redis-restart':
      await restartRedis(world, log, fault);
      break;
    case 'upstream-reset':
      world.upstream.resetShare = RESET_SHARE;
      await sleep(RESET_WINDOW_MS);
      world.upstream.resetShare = 0;
      fault.note = `cut ${RESET_SHARE * 100}% of exchanges for ${RESET_WINDOW_MS / 1000} s`;
      break;
  }
  fault.end = Date.now();
  return fault;
}

/** SIGTERM Redis and start it empty on the same port; see the loss counted; as an operator, acknowledge. */
async function restartRedis(world: World, log: FaultLog, fault: Fault): Promise<void> {
  const before = await Promise.all(world.replicas.map(lossesCounted));
  const lostAt = Date.now();
  await world.redis.stop('SIGTERM');
  await world.redis.start();
  const emptyAt = Date.now();
  log.losses.push({ from: lostAt, to: emptyAt });
  const deadline = Date.now() + 5000;
  let seen = 0;
  while (Date.now() < deadline) {
    const now = await Promise.all(world.replicas.map(lossesCounted));
    seen = now.filter((n, i) => n !== undefined && n > (before[i] ?? Infinity)).length;
    if (seen === world.replicas.length) break;
    await sleep(100);
  }
  fault.detected = seen === world.replicas.length;
  fault.note = `restart Redis: loss seen by ${seen}/${world.replicas.length} replicas`;
  if (world.options.onStoreLoss !== 'refuse') return;
  await sleep(world.options.ackDelayS * 1000);
  // Any operation begun before the empty Redis answered may have executed on the old one.
  const reconciled = await world.clients.reconcile(emptyAt);
  const replica = world.replicas[0];
  const ack = replica && await request(replica.adminUrl, {
    method: 'POST', path: '/admin/idempotency/ack-loss', headers: [['Authorization', `Bearer ${ADMIN_TOKEN}`]], timeoutMs: 5000,
  });
  if (ack?.status !== 200) throw new Error(`ack-loss answered ${ack?.status}: ${ack?.text}`);
  fault.note += `; ${reconciled} ops reconciled, acked`;
}

/** custody_proxy_idempotency_store_losses_total on one replica; undefined when it does not answer. */
async function lossesCounted(replica: Replica): Promise<number | undefined> {
  try {
    const text = (await request(replica.adminUrl, { path: '/metrics', timeoutMs: 3000 })).text;
    const n = Number(/^custody_proxy_idempotency_store_losses_total (\d+)/m.exec(text)?.[1]);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

let probes = 0;

/** Fresh keyed requests to one replica until one executes (2xx): ms after `since`, or null after 15 s. */
async function probeUntilServing(replica: Replica, since: number): Promise<number | null> {
  while (Date.now() - since < PROBE_GIVE_UP_MS) {
    const key = `probe-${process.pid}-${probes++}`;
    const ok = await request(replica.url, {
      method: 'POST', path: '/v1/probes', body: '{}', timeoutMs: 2000,
      headers: [['Authorization', bearer(PROBE)], ['Content-Type', 'application/json'], ['Idempotency-Key', key]],
    }).then((r) => r.status >= 200 && r.status < 300, () => false);
    if (ok) return Date.now() - since;
    await sleep(50);
  }
  return null;
}
