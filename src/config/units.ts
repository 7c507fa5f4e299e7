// Durations (`500ms`, `30s`, `5m`, `24h`, `7d`) and sizes (`512KiB`, `1MiB`) as written in the config (§3).
// Strict forms only: a typo must be an error, never a silently different number.

export const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const SIZE = /^(\d+)(B|KiB|MiB|GiB)?$/;
const SIZE_BYTES = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as const;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS];
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Bytes, or undefined when the text is not a size. A bare number is bytes. */
export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) * SIZE_BYTES[(m[2] ?? 'B') as keyof typeof SIZE_BYTES];
  return Number.isSafeInteger(n) ? n : undefined;
}
