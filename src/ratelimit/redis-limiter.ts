// The `redis` rate limiter (SPEC §13): buckets shared by every replica on the same Redis and key
// prefix, one script call per check (redis-script.ts). Connects with the idempotency store's
// settings (url, Sentinel or Cluster; no offline queue, 1 s command deadline), so a Redis that is down
// or stalls fails within the deadline with RateLimitStoreError and `onStoreError` decides.
// A tenant's buckets and its keys' share a hash tag (bucket.ts): one Cluster slot per check.
import type { RedisClient, RedisTopology } from '../idempotency/redis-connection.js';
import { connectRedis } from '../idempotency/redis-connection.js';
import { ReadyRunner } from '../idempotency/ready-runner.js';
import { watchSetupProblems, type ProblemReport } from '../idempotency/redis-problems.js';
import type { Bucket } from './bucket.js';
import { RateLimitStoreError, type Limiter, type Verdict } from './limiter.js';
import { RATE_LIMIT_LUA, parseReply, type ScriptMode } from './redis-script.js';

export type RedisLimiterOptions = RedisTopology & {
  readonly keyPrefix: string;
  /** deadline of one check; default 1000 ms (as the idempotency store's) */
  readonly commandTimeoutMs?: number;
  /** told of a wrong login or an untrusted certificate (never holds a password) */
  readonly onSetupProblem?: ProblemReport;
};

/** The command ioredis defines from the script: EVALSHA, and EVAL when the server lacks it (NOSCRIPT). */
interface WithScript {
  custodyRateLimit(numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

export class RedisLimiter implements Limiter {
  readonly kind = 'redis';
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #runner: ReadyRunner;
  // A bucket's script arguments, built once per bucket (buckets live as long as their document).
  readonly #args = new WeakMap<Bucket, readonly [string, string]>();

  constructor(options: RedisLimiterOptions) {
    this.#prefix = `${options.keyPrefix}rl:`;
    this.#client = connectRedis(options, options.commandTimeoutMs ?? 1000);
    // Failures surface as rejected checks; a wrong login or certificate is also reported.
    watchSetupProblems(this.#client, options, options.onSetupProblem);
    // Checks wait for the connection (at start, after a reconnect) within the deadline, never in
    // ioredis' offline queue; a closed connection fails them at once (ready-runner.ts).
    const timeoutMs = options.commandTimeoutMs ?? 1000;
    this.#runner = new ReadyRunner(this.#client, timeoutMs);
    this.#client.on('ready', () => this.#runner.ready());
    this.#client.on('close', () => this.#runner.closed());
    this.#client.defineCommand('custodyRateLimit', { lua: RATE_LIMIT_LUA });
  }

  async take(buckets: readonly Bucket[]): Promise<Verdict> {
    return this.#run('take', buckets);
  }

  async peek(bucket: Bucket): Promise<Verdict> {
    return this.#run('peek', [bucket]);
  }

  async add(bucket: Bucket): Promise<void> {
    await this.#run('add', [bucket]);
  }

  async close(): Promise<void> {
    this.#runner.close();
    await this.#client.quit().catch(() => this.#client.disconnect());
  }

  async #run(mode: ScriptMode, buckets: readonly Bucket[]): Promise<Verdict> {
    const keys: string[] = [];
    const args: Array<string | number> = [mode];
    for (const b of buckets) {
      keys.push(this.#prefix + b.key);
      args.push(...this.#argsOf(b));
    }
    let reply: unknown;
    try {
      const client = this.#client as unknown as WithScript;
      reply = await this.#runner.run(() => client.custodyRateLimit(keys.length, ...keys, ...args));
    } catch (err) {
      throw new RateLimitStoreError(`rate limit store failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    let refused: ReturnType<typeof parseReply>;
    try {
      refused = parseReply(reply);
    } catch (err) {
      throw new RateLimitStoreError((err as Error).message);
    }
    const bucket = refused && buckets[refused.index];
    return bucket && refused ? { bucket, waitMs: refused.waitMs } : undefined;
  }

  #argsOf(b: Bucket): readonly [string, string] {
    let a = this.#args.get(b);
    if (!a) {
      // Whole microseconds, at least 1: the tolerance stays exactly burst × interval.
      const interval = Math.max(1, Math.round(b.intervalMs * 1000));
      a = [String(interval), String(interval * b.burst)];
      this.#args.set(b, a);
    }
    return a;
  }
}
