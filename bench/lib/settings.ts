// The bench's knobs, from the environment, each bounded so that a typo cannot start an hour-long run.
//   BENCH_ROUNDS (3)  BENCH_DURATION seconds per round (5)  BENCH_WARMUP seconds per target (5)
//   BENCH_SLICES (4): `npm run bench` measures each target's BENCH_DURATION in this many interleaved slices
//   BENCH_CONNECTIONS (50)  BENCH_CREDENTIALS in the document (300)  BENCH_BUILD=1 forces the builds

export interface Settings {
  readonly rounds: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
  readonly slices: number;
  readonly credentials: number;
  readonly forceBuild: boolean;
}

/** An integer knob from the environment, `fallback` when unset; outside min..max it is an error. */
export function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}=${raw}: expected an integer from ${min} to ${max}`);
  return n;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    rounds: int(env, 'BENCH_ROUNDS', 3, 1, 20),
    durationS: int(env, 'BENCH_DURATION', 5, 1, 60),
    warmupS: int(env, 'BENCH_WARMUP', 5, 0, 30),
    connections: int(env, 'BENCH_CONNECTIONS', 50, 1, 1000),
    slices: int(env, 'BENCH_SLICES', 4, 1, 20),
    credentials: int(env, 'BENCH_CREDENTIALS', 300, 1, 100_000),
    forceBuild: env['BENCH_BUILD'] === '1',
  };
}
