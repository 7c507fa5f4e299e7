// Shared idempotency store on Redis (SPEC §9 `redis`): the memory store's semantics across replicas
// and restarts. Each operation is one Lua script over a record hash and its lease key, which share a
// hash tag so they live in one Redis Cluster slot. Fails closed: an error, a lost connection or an
// answer slower than commandTimeoutMs rejects with StoreUnavailableError (the stage answers 503).
// One server, Sentinel or Cluster (redis-connection.ts); with waitReplicas a claim, completion or
// release is also WAITed for on that many replicas, so a failover cannot forget it (SPEC §9 rev 2).
import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { sha256Hex } from './fingerprint.js';
import { completionFields, parseClaimReply, SCRIPTS, type Script } from './redis-scripts.js';
import { StoreUnavailableError } from './store.js';
import { ClaimUndos } from './claim-undos.js';
import { ReadyRunner } from './ready-runner.js';
import { StoreMarker, freshEpoch, type MarkerBackend, type MarkerOptions } from './store-marker.js';
import { markerBackend } from './marker-backend.js';
import { watchSetupProblems, type ProblemReport } from './redis-problems.js';
import { connectRedis, evalAndWait, notEnough, type RedisClient, type RedisTopology } from './redis-connection.js';
import type { ClaimOptions, ClaimResult, Completion, Fingerprint, IdempotencyStore } from './store.js';

/** Where Redis is: `{ url }` (redis:// or rediss://), `{ sentinels, name }` or `{ cluster }`, and the settings. */
export type RedisStoreOptions = RedisTopology & RedisStoreSettings;

export interface RedisStoreSettings {
  /** prepended to every key, e.g. "custody-proxy:" */
  readonly keyPrefix: string;
  /** budget for a whole operation, waiting for a connection included; default 1000 (SPEC §9) */
  readonly commandTimeoutMs?: number;
  /** replicas that must have a claim, completion or release (WAIT) before it counts; default 0 */
  readonly waitReplicas?: number;
  /** watch for store loss (store-marker.ts); absent: no watching (the ack-loss command) */
  readonly loss?: MarkerOptions;
  /** told of a wrong login or an untrusted certificate (redis-problems.ts; never holds a password) */
  readonly onSetupProblem?: ProblemReport;
}

type Arg = string | Buffer | number;
// ioredis has evalshaBuffer and evalBuffer (replies as Buffers) at run time but does not declare them.
// callBuffer('evalsha', …) is not an option with auto-pipelining: ioredis drops the command name of a
// pipelined callBuffer (redis/ioredis#1923, open) and here crashed the process from a setImmediate.
type ScriptCall = (script: string, numKeys: number, ...args: Arg[]) => Promise<unknown>;
interface BufferScripting {
  readonly evalshaBuffer: ScriptCall;
  readonly evalBuffer: ScriptCall;
}

export class RedisStore implements IdempotencyStore {
  readonly kind = 'redis';
  readonly #client: RedisClient;
  readonly #scripts: BufferScripting;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #waitReplicas: number;
  readonly #runner: ReadyRunner;
  readonly #undos: ClaimUndos;
  readonly #markerBackend: MarkerBackend;
  readonly #marker: StoreMarker | undefined;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    this.#prefix = options.keyPrefix;
    this.#timeoutMs = options.commandTimeoutMs ?? 1000;
    this.#waitReplicas = options.waitReplicas ?? 0;
    this.#client = connectRedis(options, this.#timeoutMs);
    this.#runner = new ReadyRunner(this.#client, this.#timeoutMs);
    this.#markerBackend = markerBackend(this.#client, this.#runner, options.keyPrefix);
    const client = this.#client as unknown as BufferScripting;
    this.#scripts = { evalshaBuffer: client.evalshaBuffer.bind(client), evalBuffer: client.evalBuffer.bind(client) };
    // Sent as EVAL, never EVALSHA: a Redis that just restarted may not hold the script. Not WAITed
    // for: an undo is retried until the master confirms it, and a WAIT that cannot be met would hold
    // the connection on every retry (a failover that loses it leaves a 409-then-502 key, never a rerun).
    this.#undos = new ClaimUndos(
      (u) => this.#scripts.evalBuffer(SCRIPTS.release.lua, 2, ...u.keys, u.token),
      () => !this.#closed && this.#client.status === 'ready',
    );
    // Failures surface through the runner; a wrong login or certificate is also reported, once per interval.
    watchSetupProblems(this.#client, options, options.onSetupProblem);
    this.#client.on('ready', () => {
      // Before anything is sent: claims on this connection wait until the marker was read on it.
      this.#marker?.reconnected();
      // Undos first: on one connection Redis runs them before any retry of the same key sent after.
      this.#undos.flush();
      this.#runner.ready();
    });
    // A Cluster replaces one master's connection without a new 'ready': one that ended (its master may
    // come back empty) or a new one also holds claims until every master's marker was read again.
    if (this.#client instanceof Cluster) {
      const again = (): void => this.#marker?.reconnected();
      this.#client.on('-node', again).on('+node', again);
    }
    if (options.loss) {
      this.#marker = new StoreMarker(this.#markerBackend, options.loss);
      this.#marker.start();
    }
    // A failed connection attempt means Redis is unreachable now: answer 503 at once rather than
    // holding requests until their deadline.
    this.#client.on('close', () => this.#runner.closed());
  }

  async claim(tenant: string, key: string, fingerprint: Fingerprint, options: ClaimOptions): Promise<ClaimResult> {
    // Fail closed after a loss (onStoreLoss: refuse): a key that executed before may look new now.
    const marker = this.#marker;
    const deadline = Date.now() + this.#timeoutMs;
    if (marker?.refusing) throw new StoreUnavailableError('idempotency store lost its records; the loss is not acknowledged');
    // A Redis that came back empty is noticed before the first claim on it (store-marker.ts).
    if (marker && !marker.verified && !(await marker.whenVerified(deadline - Date.now()))) {
      throw new StoreUnavailableError('idempotency store not verified since it reconnected');
    }
    const token = randomUUID();
    const args = [fingerprint.method, fingerprint.target, fingerprint.bodySha256, token, ms(options.ttlMs), ms(options.leaseMs)];
    const keys = this.#keys(tenant, key);
    let abandoned = false;
    // Only a claim that claimed must be on the replicas: a replay or a conflict changed nothing.
    const claimed = (reply: unknown): boolean => parseClaimReply(reply, token).kind === 'claimed';
    const send = (deadline: number): Promise<unknown> => marker && !marker.verified
      // reconnected while this claim waited for the connection: never sent on an unverified one
      ? Promise.reject(new StoreUnavailableError('idempotency store reconnected; not verified yet'))
      : this.#write(SCRIPTS.claim, keys, args, deadline, claimed, () => !abandoned);
    const reply = await this.#runner.run(send, () => {
      // The claim may still run (or have run) on the server: undo it so the key is not left in flight
      // with an owner that already answered 503, retried until Redis confirms (claim-undos.ts).
      abandoned = true;
      this.#undos.add({ keys, token, until: Date.now() + options.ttlMs });
    }, deadline);
    return parseClaimReply(reply, token);
  }

  async renewLease(tenant: string, key: string, token: string, leaseMs: number): Promise<boolean> {
    return (await this.#runner.run(() => this.#eval(SCRIPTS.renew, this.#keys(tenant, key), [token, ms(leaseMs)]))) === 1;
  }

  async complete(tenant: string, key: string, token: string, completion: Completion): Promise<boolean> {
    const fields = completionFields(completion);
    return (await this.#runner.run((deadline) => this.#write(SCRIPTS.complete, this.#keys(tenant, key), [token, ...fields], deadline))) === 1;
  }

  async completeLate(tenant: string, key: string, token: string, completion: Completion | undefined): Promise<boolean> {
    const fields = completion ? completionFields(completion) : ['', '', '', '', ''];
    return (await this.#runner.run((deadline) => this.#write(SCRIPTS.completeLate, this.#keys(tenant, key), [token, ...fields], deadline))) === 1;
  }

  async release(tenant: string, key: string, token: string): Promise<boolean> {
    return (await this.#runner.run((deadline) => this.#write(SCRIPTS.release, this.#keys(tenant, key), [token], deadline))) === 1;
  }

  async ping(): Promise<void> {
    await this.#runner.run(() => this.#client.ping());
  }

  /** The operator's acknowledgement of a store loss: keyed requests go on (SPEC §9 rev 2). */
  async ackLoss(): Promise<boolean> {
    if (this.#marker) await this.#marker.acknowledge();
    else await this.#markerBackend.set(freshEpoch());
    return true;
  }

  /** Claims given up on whose undo Redis has not confirmed yet (for tests and diagnostics). */
  get pendingUndos(): number {
    return this.#undos.size;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#runner.close();
    this.#undos.close();
    this.#marker?.close();
    if (this.#client.status === 'ready') {
      // QUIT lets Redis finish what was sent; a Redis that does not answer gets the socket closed.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.#timeoutMs); });
      await Promise.race([this.#client.quit().catch(() => {}), late]);
      clearTimeout(timer);
    }
    this.#client.disconnect();
  }

  // The client's key is hashed: any length and any bytes make a fixed-size, printable key name.
  #keys(tenant: string, key: string): [string, string] {
    const record = `${this.#prefix}idem:{${tenant}:${sha256Hex(key)}}`;
    return [record, `${record}:lease`];
  }

  /** mayRetry: false once the caller gave up, so a late NOSCRIPT never re-sends (e.g. a claim after its undo). */
  async #eval(s: Script, keys: [string, string], args: Arg[], mayRetry: () => boolean = () => true): Promise<unknown> {
    try {
      return await this.#scripts.evalshaBuffer(s.sha, 2, ...keys, ...args);
    } catch (err) {
      // Scripts are cached per server; after a restart or failover the first call loads it again.
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT') || !mayRetry()) throw err;
      return await this.#scripts.evalBuffer(s.lua, 2, ...keys, ...args);
    }
  }

  /**
   * #eval, then with waitReplicas a WAIT on the same connection until the deadline. Too few replicas
   * is a failure for a write that `changed` the record (a settle always counts: a retry after a failed
   * WAIT finds nothing to change and must still see the replicas have it).
   */
  async #write(s: Script, keys: [string, string], args: Arg[], deadline: number, changed: (reply: unknown) => boolean = () => true, mayRetry: () => boolean = () => true): Promise<unknown> {
    const n = this.#waitReplicas;
    if (n === 0) return this.#eval(s, keys, args, mayRetry);
    // The reply must still arrive before the deadline.
    const waitMs = deadline - Date.now() - 50;
    const { reply, acked } = await evalAndWait(this.#client, { sha: s.sha, lua: s.lua, keys, args }, n, waitMs, mayRetry);
    if (acked < n && changed(reply)) throw notEnough(acked, n);
    return reply;
  }
}

// PEXPIRE and SET PX take positive integers only.
function ms(value: number): number {
  return Math.max(1, Math.ceil(value));
}
