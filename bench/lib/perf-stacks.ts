// Reads `perf script -F ip,sym` output (one sample per block: its frames, innermost first) and answers
// the questions bench:profile asks: microseconds per request in all, inside a function (inclusive), by
// symbol (self), and by kind of code.

export interface Profile {
  /** each sample's frames, innermost first */
  readonly stacks: readonly (readonly string[])[];
  /** µs of CPU one sample stands for, divided by the requests measured */
  readonly usPerSamplePerRequest: number;
}

export function parsePerfScript(text: string, frequencyHz: number, requests: number): Profile {
  const stacks: string[][] = [];
  let current: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') {
      if (current.length > 0) stacks.push(current);
      current = [];
      continue;
    }
    // "<hex ip> <symbol>"; the symbol may hold spaces
    const space = line.indexOf(' ');
    current.push(space === -1 ? '[unknown]' : line.slice(space + 1));
  }
  if (current.length > 0) stacks.push(current);
  return { stacks, usPerSamplePerRequest: 1e6 / frequencyHz / requests };
}

export const totalUs = (p: Profile): number => p.stacks.length * p.usPerSamplePerRequest;

/** Per frame matching `pattern`: µs per request of the samples it is on (counted once per sample). */
export function inclusiveUs(p: Profile, pattern: RegExp): Map<string, number> {
  const out = new Map<string, number>();
  for (const stack of p.stacks) {
    const seen = new Set<string>();
    for (const frame of stack) if (pattern.test(frame)) seen.add(frame);
    for (const frame of seen) out.set(frame, (out.get(frame) ?? 0) + p.usPerSamplePerRequest);
  }
  return out;
}

/** Innermost frame (self time) per symbol, in µs per request. */
export function selfUs(p: Profile): Map<string, number> {
  const out = new Map<string, number>();
  for (const stack of p.stacks) {
    const leaf = stack[0] ?? '[unknown]';
    out.set(leaf, (out.get(leaf) ?? 0) + p.usPerSamplePerRequest);
  }
  return out;
}

/** custody-proxy's compiled ES modules, as V8 names them (file:// URLs; CommonJS packages show plain paths) */
export const OWN_CODE = /file:\/\/\/\S*\/dist\//;

/** What kind of code a (self) symbol is. */
export function kindOf(symbol: string): string {
  if (symbol.includes('http-proxy-3')) return 'http-proxy-3 JS';
  if (OWN_CODE.test(symbol)) return 'custody-proxy JS';
  if (symbol.startsWith('JS:') && symbol.includes('node:')) return 'Node.js JS';
  if (symbol.startsWith('JS:') || symbol.startsWith('RegExp:')) return 'other JS';
  if (symbol.startsWith('Builtins_')) return 'V8 builtins';
  if (/^(v8::|node::|uv_|uv__|OPENSSL|EVP_|sha256|CRYPTO_)/.test(symbol)) return 'V8/Node native';
  return 'kernel, libc, other';
}

export function byKind(p: Profile): Map<string, number> {
  const out = new Map<string, number>();
  for (const [symbol, us] of selfUs(p)) {
    const k = kindOf(symbol);
    out.set(k, (out.get(k) ?? 0) + us);
  }
  return out;
}
