// Wiring only: config → credentials source → stages → forwarder → listeners, and shutdown in
// reverse order. No request logic lives here.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from './config/load.js';
import { CredentialsRegistry } from './credentials/registry.js';
import { diffDocuments, logChanges } from './credentials/audit.js';
import { startCredentialSource, type CredentialSource } from './credentials/start-source.js';
import { warnOutsideEnvironment } from './credentials/key-environment.js';
import { LifecycleMonitor } from './credentials/lifecycle-monitor.js';
import { accessLogFrom, createLoggers, type AccessLog, type Logger } from './telemetry/logger.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';
import { IpMatcher } from './net/ip-match.js';
import { createHandler, fail, type Stage, type Terminal } from './pipeline/handler.js';
import { recordRefusal } from './pipeline/access-log.js';
import { resolveClient } from './stages/resolve-client.js';
import { refuseBrowser } from './stages/refuse-browser.js';
import { authenticateIn } from './stages/authenticate.js';
import { checkAllowlist } from './stages/check-allowlist.js';
import { checkTarget } from './stages/check-target.js';
import { checkPermissions } from './stages/check-permissions.js';
import { stampHeaders } from './stages/stamp-headers.js';
import { rateLimit, storeErrorPolicy } from './stages/rate-limit.js';
import { failedAuthStages } from './stages/failed-auth.js';
import { createLimiters, type Limiters } from './ratelimit/create-limiter.js';
import { Forwarder } from './forward/forwarder.js';
import { forwardTerminal } from './terminals/plain-terminal.js';
import { idempotencyTerminal } from './terminals/idempotency-terminal.js';
import { createStore } from './idempotency/create-store.js';
import type { IdempotencyStore } from './idempotency/store.js';
import { StoreHealth } from './idempotency/store-health.js';
import { adminRoutes } from './admin/admin-routes.js';
import { readTokenFile } from './config/token-file.js';
import { createAdminServer } from './admin/admin-server.js';
import { createProxyServer, listen } from './server.js';
import { ListenerDrain } from './listener-drain.js';
import { prepareListenerTls, type ListenerTls } from './tls/tls-listener.js';
import { upstreamCaAtStart } from './tls/upstream-ca.js';

export interface AppOptions {
  readonly logger?: Logger;
  /** where access lines go; defaults to `logger` when that is given */
  readonly accessLog?: AccessLog;
  /** prom-client's Node process metrics (off in tests that run many apps in one process) */
  readonly processMetrics?: boolean;
}

export interface App {
  readonly proxyAddress: AddressInfo;
  readonly adminAddress: AddressInfo;
  readonly registry: CredentialsRegistry;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** SIGHUP: re-read the credentials source now. */
  reloadCredentials(): Promise<unknown>;
  /** SIGHUP: re-read the listener's TLS files now ('off' without `tls`). */
  reloadTls(): Promise<'applied' | 'unchanged' | 'rejected' | 'off'>;
  /**
   * SIGTERM (SPEC §12): readiness 503 at once; serve as usual for drainDelay; stop accepting and let
   * in-flight requests finish within shutdownTimeout; then close everything. Once only: later calls
   * return the same promise.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** A second signal: ends the drain delay now; once closing, cuts the requests still in flight. */
  hurry(): void;
}

export interface ShutdownOptions {
  /** stop accepting at once (SIGINT: an operator at a terminal, no load balancer to wait for) */
  readonly skipDrainDelay?: boolean;
}

// Kept out of shutdownTimeout for what follows the drain (closing the store: a 1 s Redis deadline), so
// the process is gone within drainDelay + shutdownTimeout (SPEC §12).
const CLOSE_RESERVE_MS = 1000;

/** What the request path and the listeners share. */
interface Wiring {
  readonly config: ProxyConfig;
  readonly logger: Logger;
  readonly accessLog: AccessLog;
  readonly metrics: Metrics;
  readonly registry: CredentialsRegistry;
  readonly lifecycle: LifecycleMonitor;
}

/** The checks in order (the order lives here, and only here), then the terminal. */
function requestPath(w: Wiring, forwarder: Forwarder, store: IdempotencyStore, limiters: Limiters): { stages: Stage[]; terminal: Terminal } {
  const { config, logger, metrics } = w;
  const onStoreError = storeErrorPolicy(config.rateLimits.onStoreError, (err) => limiters.reportStoreError(err));
  const failedAuth = config.rateLimits.failedAuth;
  const stages: Stage[] = [
    resolveClient(new IpMatcher(config.trustedProxies ?? [])),
    ...(config.browserRequests === 'refuse' ? [refuseBrowser] : []),
    // With rateLimits.failedAuth: the per-IP check first, then authenticate counting its 401s.
    ...(limiters.failedAuth && failedAuth ? failedAuthStages(limiters.failedAuth, failedAuth, onStoreError, authenticateIn(config.environment)) : [authenticateIn(config.environment)]),
    checkAllowlist,
    checkTarget,
    checkPermissions,
    rateLimit(limiters.limits, onStoreError),
    stampHeaders(config.upstream.url.host),
  ];
  const idem = config.idempotency;
  const settings = {
    methods: idem.methods,
    required: idem.required,
    ttlMs: idem.ttl,
    leaseMs: idem.lease,
    maxRequestBytes: idem.maxRequestBytes,
    maxResponseBytes: idem.maxResponseBytes,
    lateResponseWindowMs: idem.lateResponseWindow,
  };
  const plain = forwardTerminal(forwarder, (ctx, err) => fail(ctx, err, logger));
  return { stages, terminal: idempotencyTerminal(settings, store, forwarder, plain, logger, metrics) };
}

function adminListener(w: Wiring, source: CredentialSource, store: IdempotencyStore, storeHealth: StoreHealth, drain: ListenerDrain): http.Server {
  const { registry } = w;
  return createAdminServer({
    registry: w.metrics.registry,
    routes: adminRoutes({
      token: readTokenFile(w.config.admin.tokenFile),
      registry,
      reload: async () => ({ result: await source.load(), problems: source.refusal() }),
      ackLoss: () => store.ackLoss(),
      logger: w.logger,
    }),
    readiness: [
      () => (registry.current ? undefined : 'credentials not loaded'),
      () => (drain.stopping ? 'draining' : undefined),
    ],
    // Reported, never a reason (SPEC §11 rev 2): a store outage fails keyed requests only, and a
    // readiness probe failing on it would take every replica out of the Service at once.
    status: async () => ({ idempotencyStore: { kind: store.kind, up: await storeHealth.check() } }),
  });
}

function wiring(config: ProxyConfig, options: AppOptions): Wiring {
  const created = options.logger ? undefined : createLoggers(config.logging.level);
  const logger = options.logger ?? created?.logger ?? createLoggers('silent').logger;
  const accessLog = options.accessLog ?? created?.access ?? accessLogFrom(logger);
  const metrics = createMetrics({ processMetrics: options.processMetrics ?? true });
  const registry = new CredentialsRegistry();
  registry.onChange((s) => {
    for (const [status, n] of Object.entries(s.countsByStatus)) metrics.credentials.set({ status }, n);
  });
  registry.onChange((s) => warnOutsideEnvironment(s, config.environment, logger));
  // The first load is not a change (its "credentials loaded" line says what is in force); every later swap is audited.
  registry.onChange((next, previous, source) => {
    if (previous) logChanges(logger, source, diffDocuments(previous.document, next.document));
  });
  const lifecycle = new LifecycleMonitor(registry, config.credentials, logger, metrics);
  return { config, logger, accessLog, metrics, registry, lifecycle };
}

/** The client listener (plain or TLS) with its request handler and its drain (SPEC §12). */
function clientListener(w: Wiring, path: { stages: Stage[]; terminal: Terminal }, listenerTls: ListenerTls | undefined): { proxyServer: http.Server; drain: ListenerDrain } {
  const { config, registry, logger, accessLog, metrics } = w;
  const isClosing = (): boolean => drain.closing;
  const handler = createHandler({ registry, ...path, logger, accessLog, metrics, isClosing, maxHeaderCount: config.server.maxHeaderCount });
  const proxyServer = createProxyServer(handler, config.server, (refusal) => recordRefusal(refusal, accessLog, metrics), listenerTls?.options);
  listenerTls?.attach(proxyServer);
  const drain = new ListenerDrain(proxyServer, logger);
  return { proxyServer, drain };
}

export async function startApp(config: ProxyConfig, options: AppOptions = {}): Promise<App> {
  const w = wiring(config, options);
  const { logger, metrics, registry } = w;
  // The files a bad config names stop the start before anything is watched or connected.
  const listenerTls = config.tls ? prepareListenerTls(config.tls, config.configFile, logger, metrics.registry) : undefined;
  const ca = upstreamCaAtStart(config.upstream.caFile, config.configFile);
  const source = await startCredentialSource(config, registry, logger, metrics);
  const forwarder = new Forwarder({ url: config.upstream.url, timeoutMs: config.upstream.timeout, connectTimeoutMs: config.upstream.connectTimeout, ca });
  const store = await createStore(config.idempotency, config.configFile, logger, metrics);
  const storeHealth = new StoreHealth(store, (up) => metrics.storeUp.set(up ? 1 : 0));
  metrics.scrapeChecks.storeUp = () => storeHealth.check();
  const limiters = await createLimiters(config, logger, metrics);
  const { proxyServer, drain } = clientListener(w, requestPath(w, forwarder, store, limiters), listenerTls);
  metrics.scrapeChecks.ready = () => registry.current !== undefined && !drain.stopping;
  const adminServer = adminListener(w, source, store, storeHealth, drain);
  const proxyAddress = await listen(proxyServer, config.listen);
  const adminAddress = await listen(adminServer, config.admin.listen);
  logger.info({ proxy: proxyAddress, admin: adminAddress, upstream: config.upstream.url.origin, tls: listenerTls !== undefined }, 'custody-proxy listening');
  logger.flush();
  // Shutdown in reverse order of start: drain the listener, then close what its requests used.
  const closeRest = async (): Promise<void> => {
    listenerTls?.close();
    forwarder.close();
    await store.close();
    await limiters.close();
    source.close();
    w.lifecycle.close();
    await new Promise<void>((resolve) => adminServer.close(() => resolve()));
    adminServer.closeAllConnections();
  };
  let stopped: Promise<void> | undefined;
  return {
    proxyAddress,
    adminAddress,
    registry,
    metrics,
    logger,
    reloadCredentials: () => source.load(),
    reloadTls: () => listenerTls?.reload() ?? Promise.resolve('off'),
    shutdown: (opts = {}) => (stopped ??= stop(w, drain, closeRest, opts)),
    hurry: () => drain.hurry(),
  };
}

/** The shutdown sequence: the listener's drain (SPEC §12), then the rest, then the last log lines. */
async function stop(w: Wiring, drain: ListenerDrain, closeRest: () => Promise<void>, opts: ShutdownOptions): Promise<void> {
  const { config, logger, accessLog } = w;
  const delayMs = opts.skipDrainDelay ? 0 : config.drainDelay;
  const timeoutMs = Math.max(0, config.shutdownTimeout - Math.min(CLOSE_RESERVE_MS, config.shutdownTimeout / 4));
  logger.info({ drainDelayMs: delayMs, shutdownTimeoutMs: config.shutdownTimeout }, 'shutting down: not ready; serving until the drain delay ends');
  await drain.drain({ delayMs, timeoutMs });
  await closeRest();
  logger.info('custody-proxy stopped');
  accessLog.flush();
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
}
