// Options of `npm run chaos`: flags, each with an environment fallback (CHAOS_<NAME>), checked
// before anything starts, so a typo fails at once rather than after a minute of faults.
import { parseArgs } from 'node:util';

export type OnStoreLoss = 'refuse' | 'continue';

export interface ChaosOptions {
  /** seconds of traffic with faults (startup and the final drain come on top) */
  readonly durationS: number;
  readonly seed: number;
  readonly replicas: number;
  readonly clients: number;
  readonly onStoreLoss: OnStoreLoss;
  /** longest Redis stall (SIGSTOP) in seconds; the first stall of a run always takes this long */
  readonly maxStallS: number;
  /** seconds between a detected store loss and the operator's acknowledgement (refuse only) */
  readonly ackDelayS: number;
  /** where to write the JSON summary, if anywhere */
  readonly jsonPath: string | undefined;
}

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, not ${raw}`);
  return n;
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): ChaosOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: 'string' },
      seed: { type: 'string' },
      replicas: { type: 'string' },
      clients: { type: 'string' },
      'on-store-loss': { type: 'string' },
      'max-stall': { type: 'string' },
      'ack-delay': { type: 'string' },
      json: { type: 'string' },
    },
    strict: true,
  });
  const pick = (flag: keyof typeof values, envName: string): string | undefined => values[flag] ?? env[`CHAOS_${envName}`];
  const onStoreLoss = pick('on-store-loss', 'ON_STORE_LOSS') ?? 'refuse';
  if (onStoreLoss !== 'refuse' && onStoreLoss !== 'continue') throw new Error(`--on-store-loss must be refuse or continue, not ${onStoreLoss}`);
  return {
    durationS: int('duration', pick('duration', 'DURATION'), 60, 10, 3600),
    // A seed from the clock by default; it is printed, so any run can be repeated.
    seed: int('seed', pick('seed', 'SEED'), Date.now() % 1_000_000_000, 0, 2 ** 31 - 1),
    replicas: int('replicas', pick('replicas', 'REPLICAS'), 3, 2, 8),
    clients: int('clients', pick('clients', 'CLIENTS'), 8, 1, 64),
    onStoreLoss,
    maxStallS: int('max-stall', pick('max-stall', 'MAX_STALL'), 10, 1, 30),
    ackDelayS: int('ack-delay', pick('ack-delay', 'ACK_DELAY'), 2, 0, 60),
    jsonPath: pick('json', 'JSON'),
  };
}

/** mulberry32: a small seeded PRNG, so a seed replays the same fault schedule and client choices. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
