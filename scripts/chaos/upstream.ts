// The custody service stand-in: one HTTP listener per replica slot (so every execution says which
// replica forwarded it) over one ledger that counts executions per (tenant, key). It answers 201 with
// a body naming the execution. During a reset window it cuts some exchanges, and the ledger says which
// cut executed: `after` (the request was read and executed, the socket is destroyed instead of the
// answer: outcome unknown, executed) or `before` (the socket is destroyed before executing: nothing ran).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Execution {
  readonly tenant: string;
  readonly key: string;
  /** which replica slot forwarded it */
  readonly slot: number;
  readonly at: number;
  /** 1 for the first execution of (tenant, key), 2 for a double execution, … */
  readonly n: number;
  /** the 201 was written to the proxy (not the case for a reset after executing) */
  answered: boolean;
  reset: boolean;
}

export interface Cut {
  readonly tenant: string;
  readonly key: string;
  readonly slot: number;
  readonly at: number;
}

export interface Upstream {
  /** one URL per replica slot */
  readonly urls: readonly string[];
  executionsOf(tenant: string, key: string): readonly Execution[];
  /** exchanges cut before executing, per (tenant, key) */
  cutsOf(tenant: string, key: string): readonly Cut[];
  all(): IterableIterator<readonly Execution[]>;
  /** while set, about this share of keyed requests are cut, half before and half after executing */
  resetShare: number;
  close(): Promise<void>;
}

const id = (tenant: string, key: string): string => `${tenant}\u0000${key}`;

/** Executions and cuts per (tenant, key), in the order they happened. */
class Ledger {
  readonly executions = new Map<string, Execution[]>();
  readonly cuts = new Map<string, Cut[]>();

  cut(c: Cut): void {
    const list = this.cuts.get(id(c.tenant, c.key)) ?? [];
    list.push(c);
    this.cuts.set(id(c.tenant, c.key), list);
  }

  execute(tenant: string, key: string, slot: number): Execution {
    const list = this.executions.get(id(tenant, key)) ?? [];
    const exec: Execution = { tenant, key, slot, at: Date.now(), n: list.length + 1, answered: false, reset: false };
    list.push(exec);
    this.executions.set(id(tenant, key), list);
    return exec;
  }
}

/** One request: cut before executing, executed then cut, or executed and answered 201 after 5–80 ms. */
function handle(ledger: Ledger, resetShare: number, random: () => number, slot: number, req: http.IncomingMessage, res: http.ServerResponse): void {
  const tenant = String(req.headers['x-tenant-id'] ?? '');
  const key = req.headers['idempotency-key'];
  if (typeof key !== 'string') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"unkeyed":true}');
    return;
  }
  const roll = random();
  if (roll < resetShare / 2) {
    ledger.cut({ tenant, key, slot, at: Date.now() });
    req.socket.destroy();
    return;
  }
  const exec = ledger.execute(tenant, key, slot);
  // 5–80 ms of "work", so SIGKILLs and stalls find requests in flight.
  const work = 5 + Math.floor(random() * 75);
  const cutAfter = roll < resetShare;
  setTimeout(() => {
    if (cutAfter) {
      exec.reset = true;
      req.socket.destroy();
      return;
    }
    res.once('finish', () => (exec.answered = true));
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ execution: `${tenant}/${key}#${exec.n}`, slot }));
  }, work);
}

export async function startUpstream(slots: number, random: () => number): Promise<Upstream> {
  const ledger = new Ledger();
  const servers: http.Server[] = [];
  const state = { resetShare: 0 };

  const urls: string[] = [];
  for (let slot = 0; slot < slots; slot++) {
    const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
      req.resume(); // the body is not needed: the proxy already checked and fingerprinted it
      req.once('end', () => handle(ledger, state.resetShare, random, slot, req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }
  return {
    urls,
    executionsOf: (tenant, key) => ledger.executions.get(id(tenant, key)) ?? [],
    cutsOf: (tenant, key) => ledger.cuts.get(id(tenant, key)) ?? [],
    all: () => ledger.executions.values(),
    get resetShare() {
      return state.resetShare;
    },
    set resetShare(v: number) {
      state.resetShare = v;
    },
    async close() {
      await Promise.all(servers.map((s) => {
        s.closeAllConnections();
        return new Promise<void>((resolve) => s.close(() => resolve()));
      }));
    },
  };
}
