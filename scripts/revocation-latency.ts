// Revocation latency, end to end (SPEC §8: "within 2 s"): a real `custody-proxy serve` process, a key
// that works, then the credentials file rewritten with that key revoked; measured from the moment the
// file is written to the first 401, over N trials; prints each trial and median / p90 / max.
//   npm run bench:revocation [-- --trials N --mode rename|inplace|cli]   (this file: scripts/revocation-latency.ts)
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const BIN = path.join(ROOT, 'bin', 'custody-proxy.js');
/** per trial: how long to wait for the key to work, or to be refused, before giving up */
const WAIT_MS = 10_000;

type Mode = 'rename' | 'inplace' | 'cli';

const { values } = parseArgs({ options: { trials: { type: 'string' }, mode: { type: 'string' } }, strict: true });
const trials = Number(values.trials ?? '25');
const mode = (values.mode ?? 'rename') as Mode;
if (!Number.isInteger(trials) || trials < 1 || trials > 500) throw new Error(`--trials must be an integer from 1 to 500, not ${values.trials}`);
if (!['rename', 'inplace', 'cli'].includes(mode)) throw new Error(`--mode must be rename, inplace or cli, not ${mode}`);
if (!existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const log = (text: string): void => void process.stdout.write(`${text}\n`);
const sha = (s: string): string => `sha256:${createHash('sha256').update(s, 'utf8').digest('hex')}`;

interface Key {
  readonly keyId: string;
  readonly secret: string;
}

function document(keys: ReadonlyArray<{ key: Key; status: string }>): string {
  return stringify({
    tenants: [{ id: 'tnt_bench' }],
    credentials: keys.map(({ key, status }) => ({ keyId: key.keyId, tenant: 'tnt_bench', status, secretHash: sha(key.secret) })),
  });
}

/** How an operator's tooling writes: atomically (temp + rename, like `keys`), or in place. */
function write(file: string, text: string, how: 'rename' | 'inplace'): void {
  if (how === 'inplace') {
    writeFileSync(file, text);
    return;
  }
  const tmp = path.join(path.dirname(file), `.credentials.${process.pid}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function status(port: number, key: Key): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/v1/vaults', agent, headers: { authorization: `Bearer ${key.keyId}:${key.secret}` } },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('request timeout')));
    req.once('error', reject);
    req.end();
  });
}

/** Sends requests back to back until `want`; the wall-clock time (Date.now) of that answer. */
async function until(port: number, key: Key, want: number): Promise<number | undefined> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if ((await status(port, key)) === want) return Date.now();
  }
  return undefined;
}

function run(args: readonly string[]): Promise<number | null> {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** A port that was free a moment ago (the proxy logs at warn, so it does not print its listening line). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function startProxy(config: string, port: number): { child: ChildProcess; ready: Promise<void> } {
  const env = { ...process.env };
  delete env['NODE_OPTIONS']; // no tsx loader in the proxy: it runs the built dist/
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-10_000)));
  const ready = (async () => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`custody-proxy exited (${child.exitCode ?? child.signalCode}) before listening\n${err}`);
      try {
        await new Promise<void>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => {
            socket.destroy();
            resolve();
          });
          socket.once('error', reject);
        });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`custody-proxy did not listen within 60 s\n${err}`);
        await sleep(50);
      }
    }
  })();
  return { child, ready };
}

function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'custody-proxy-revocation-'));
  const upstream = http.createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;

  const file = path.join(dir, 'credentials.yaml');
  const config = path.join(dir, 'custody-proxy.yaml');
  const [port, adminPort] = [await freePort(), await freePort()];
  const base: Key = { keyId: 'ck_test_bench_base', secret: `sk_test_${randomBytes(32).toString('base64url')}` };
  writeFileSync(file, document([{ key: base, status: 'active' }]));
  writeFileSync(
    config,
    stringify({
      listen: `127.0.0.1:${port}`,
      admin: { listen: `127.0.0.1:${adminPort}` },
      upstream: { url: `http://127.0.0.1:${upstreamPort}`, timeout: '5s', connectTimeout: '1s' },
      credentials: { file: 'credentials.yaml' },
      logging: { level: 'warn' }, // no access line per probe request
      drainDelay: '0s', // nothing to drain: stop at once
      shutdownTimeout: '2s',
    }),
  );

  const proxy = startProxy(config, port);
  const stop = (): void => {
    if (proxy.child.pid !== undefined && proxy.child.exitCode === null && proxy.child.signalCode === null) process.kill(proxy.child.pid, 'SIGTERM');
  };
  process.once('SIGINT', () => {
    stop();
    process.exit(130);
  });
  const latencies: number[] = [];
  let timeouts = 0;
  try {
    await proxy.ready;
    log(`custody-proxy pid ${proxy.child.pid} on 127.0.0.1:${port}; ${trials} trials, mode ${mode}, node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (let i = 1; i <= trials; i++) {
      const key: Key = { keyId: `ck_test_bench_${i}`, secret: `sk_test_${randomBytes(32).toString('base64url')}` };
      // 1. the key is in force
      write(file, document([{ key: base, status: 'active' }, { key, status: 'active' }]), 'rename');
      if ((await until(port, key, 200)) === undefined) throw new Error(`trial ${i}: the new key never worked`);
      // 2. a random pause, so trials fall at every phase of the 1 s stat poll
      await sleep(200 + Math.floor(Math.random() * 1000));
      // 3. revoke, and time from the write to the first 401
      const revoked = document([{ key: base, status: 'active' }, { key, status: 'revoked' }]);
      let written: number;
      if (mode === 'cli') {
        const code = await run([BIN, 'keys', 'revoke', key.keyId, '--file', file]);
        if (code !== 0) throw new Error(`trial ${i}: keys revoke exited ${code}`);
        written = statSync(file).mtimeMs; // when the CLI wrote the file, not when it exited
      } else {
        write(file, revoked, mode);
        written = Date.now();
      }
      const refused = await until(port, key, 401);
      if (refused === undefined) {
        timeouts++;
        log(`trial ${String(i).padStart(3)}: no 401 within ${WAIT_MS} ms`);
        continue;
      }
      const ms = Math.round(refused - written);
      latencies.push(ms);
      log(`trial ${String(i).padStart(3)}: ${ms.toFixed(0).padStart(5)} ms`);
    }
  } finally {
    stop();
    agent.destroy();
    upstream.closeAllConnections();
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const fmt = (n: number): string => `${n.toFixed(0)} ms`;
  log('');
  log(`revocation latency, file written → first 401 (mode ${mode}), ${sorted.length} of ${trials} trials:`);
  log(`  median ${fmt(percentile(sorted, 50))}   p90 ${fmt(percentile(sorted, 90))}   max ${fmt(sorted.at(-1) ?? Number.NaN)}   min ${fmt(sorted[0] ?? Number.NaN)}`);
  if (timeouts > 0) log(`  ${timeouts} trial(s) saw no 401 within ${WAIT_MS} ms`);
  const over = sorted.filter((ms) => ms >= 2000).length;
  log(`  ${over === 0 && timeouts === 0 ? 'every trial within' : `${over + timeouts} trial(s) NOT within`} the 2 s of SPEC §8`);
  log(JSON.stringify({ mode, trials, measured: sorted.length, timeouts, medianMs: percentile(sorted, 50), p90Ms: percentile(sorted, 90), maxMs: sorted.at(-1) ?? null }));
  if (timeouts > 0 || over > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`revocation-latency: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
