// Starts the three child processes the bench measures against (the upstream, custody-proxy from
// bin/custody-proxy.js, the bare http-proxy-3 pass-through), learns their ports from the JSON line each
// prints on stdout (a file), and checks that each answers as expected before any load is sent.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startChild, waitForLine, type Child } from './processes.js';
import { echoedTenant, writeCustodySetup, type CustodySetup } from './custody-setup.js';
import { plainRequest } from './plain-request.js';

const READY_TIMEOUT_MS = 20_000;

export interface Started {
  readonly upstream: Child;
  readonly upstreamUrl: string;
  readonly custody: Child;
  readonly custodyUrl: string;
  readonly passthrough: Child;
  readonly passthroughUrl: string;
  readonly setup: CustodySetup;
}

/** Picks `port` from the JSON line whose msg is `msg` (the bench children's ready lines). */
export const portFrom = (msg: string) => (line: Record<string, unknown>): number | undefined =>
  line['msg'] === msg && typeof line['port'] === 'number' ? line['port'] : undefined;

// custody-proxy's pino line: {"msg":"custody-proxy listening","proxy":{"address":…,"port":N},…}
export function custodyPort(line: Record<string, unknown>): number | undefined {
  const proxy = line['proxy'];
  if (line['msg'] !== 'custody-proxy listening' || proxy === null || typeof proxy !== 'object') return undefined;
  const port: unknown = (proxy as Record<string, unknown>)['port'];
  return typeof port === 'number' ? port : undefined;
}

export interface StartOptions {
  readonly root: string;
  readonly logDir: string;
  readonly childDir: string;
  readonly credentials: number;
}

/** The bench upstream (compiled into `childDir`); resolves with it and its URL once it listens. */
export async function startUpstream(childDir: string, logDir: string, cwd: string): Promise<{ child: Child; url: string }> {
  const child = startChild('upstream', [path.join(childDir, 'upstream.js')], logDir, cwd);
  return { child, url: `http://127.0.0.1:${await waitForLine(child, portFrom('bench upstream ready'), READY_TIMEOUT_MS)}` };
}

/** `node bin/custody-proxy.js serve --config <configFile>` in `cwd` (a build's root); resolves with it and its URL once it listens. */
export async function startCustody(name: string, configFile: string, logDir: string, cwd: string, nodeArgs: readonly string[] = []): Promise<{ child: Child; url: string }> {
  const child = startChild(name, [...nodeArgs, 'bin/custody-proxy.js', 'serve', '--config', configFile], logDir, cwd);
  return { child, url: `http://127.0.0.1:${await waitForLine(child, custodyPort, READY_TIMEOUT_MS)}` };
}

/** The two proxies under test, started side by side against one upstream. */
export interface Proxies {
  readonly custody: Child;
  readonly custodyUrl: string;
  readonly passthrough: Child;
  readonly passthroughUrl: string;
}

/** Writes custody-proxy's config and credentials for `upstreamUrl` into `<logDir>/config`. */
export function writeSetup(o: StartOptions, upstreamUrl: string): CustodySetup {
  // A folder of its own: custody-proxy watches the credentials file's folder and re-reads the document
  // on any change there, so the children's log files must not live next to it.
  const configDir = path.join(o.logDir, 'config');
  mkdirSync(configDir);
  return writeCustodySetup(configDir, upstreamUrl, o.credentials);
}

/**
 * custody-proxy and the pass-through; `suffix` tells the log files of one start from another's, and
 * both get `nodeArgs` (e.g. bench:profile's --perf-basic-prof).
 */
export async function startProxies(o: StartOptions, upstreamUrl: string, setup: CustodySetup, suffix = '', nodeArgs: readonly string[] = []): Promise<Proxies> {
  const passthrough = startChild(`passthrough${suffix}`, [...nodeArgs, path.join(o.childDir, 'passthrough.js'), upstreamUrl], o.logDir, o.root);
  const [custody, pPort] = await Promise.all([
    startCustody(`custody-proxy${suffix}`, setup.configFile, o.logDir, o.root, nodeArgs),
    waitForLine(passthrough, portFrom('bench passthrough ready'), READY_TIMEOUT_MS),
  ]);
  return { custody: custody.child, custodyUrl: custody.url, passthrough, passthroughUrl: `http://127.0.0.1:${pPort}` };
}

export async function startTargets(o: StartOptions): Promise<Started> {
  const { child: upstream, url: upstreamUrl } = await startUpstream(o.childDir, o.logDir, o.root);
  const setup = writeSetup(o, upstreamUrl);
  return { upstream, upstreamUrl, setup, ...(await startProxies(o, upstreamUrl, setup)) };
}

async function get(url: string, authorization: string | undefined): Promise<{ status: number; tenant: unknown }> {
  const res = await plainRequest(url, { headers: authorization ? { authorization } : {} });
  return { status: res.status, tenant: echoedTenant(res.text) };
}

/** The load is only meaningful if custody-proxy really authenticates and stamps, and both answer 200. */
export async function preflight(s: Pick<Started, 'custodyUrl' | 'passthroughUrl' | 'setup'>, pathAndQuery: string): Promise<void> {
  const auth = s.setup.authorization;
  const ok = await get(s.custodyUrl + pathAndQuery, auth);
  if (ok.status !== 200 || ok.tenant !== s.setup.tenantId) {
    throw new Error(`preflight: custody-proxy answered ${ok.status}, upstream saw tenant ${JSON.stringify(ok.tenant)}`);
  }
  const anonymous = await get(s.custodyUrl + pathAndQuery, undefined);
  if (anonymous.status !== 401) throw new Error(`preflight: custody-proxy without credentials answered ${anonymous.status}, not 401`);
  const pass = await get(s.passthroughUrl + pathAndQuery, auth);
  if (pass.status !== 200) throw new Error(`preflight: passthrough answered ${pass.status}`);
}
