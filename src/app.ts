// Wiring only: config → credentials source → stages → forwarder → listeners, and shutdown in
// reverse order. No request logic lives here.
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from './config/load.js';
import { CredentialsRegistry } from './credentials/registry.js';
import { startCredentialSource } from './credentials/start-source.js';
import { accessLogFrom, createLoggers, type AccessLog, type Logger } from './telemetry/logger.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';
import { IpMatcher } from './net/ip-match.js';
import { createHandler, fail, type Stage } from './pipeline/handler.js';
import { recordRefusal } from './pipeline/access-log.js';
import { resolveClient } from './stages/resolve-client.js';
import { authenticate } from './stages/authenticate.js';
import { checkAllowlist } from './stages/check-allowlist.js';
import { checkTarget } from './stages/check-target.js';
import { checkPermissions } from './stages/check-permissions.js';
import { stampHeaders } from './stages/stamp-headers.js';
import { Forwarder } from './forward/forwarder.js';
import { forwardTerminal } from './terminals/plain-terminal.js';
import { idempotencyTerminal } from './terminals/idempotency-terminal.js';
import { createStore } from './idempotency/create-store.js';
import { adminRoutes } from './admin/admin-routes.js';
import { readTokenFile } from './config/token-file.js';
import { createAdminServer } from './admin/admin-server.js';
import { createProxyServer, drainServer, listen } from './server.js';

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
  /** SIGTERM behaviour: readiness 503, refuse new requests, finish in-flight ones, then close. */
  shutdown(): Promise<void>;
}

export async function startApp(config: ProxyConfig, options: AppOptions = {}): Promise<App> {
  const created = options.logger ? undefined : createLoggers(config.logging.level);
  const logger = options.logger ?? created?.logger ?? createLoggers('silent').logger;
  const accessLog = options.accessLog ?? created?.access ?? accessLogFrom(logger);
  const metrics = createMetrics({ processMetrics: options.processMetrics ?? true });
  const registry = new CredentialsRegistry();
  registry.onChange((s) => {
    for (const [status, n] of Object.entries(s.countsByStatus)) metrics.credentials.set({ status }, n);
  });
  const source = await startCredentialSource(config, registry, logger, metrics);

  const trusted = new IpMatcher(config.trustedProxies ?? []);
  // The order of the checks lives here, and only here.
  const stages: Stage[] = [
    resolveClient(trusted),
    authenticate,
    checkAllowlist,
    checkTarget,
    checkPermissions,
    stampHeaders(config.upstream.url.host),
  ];
  const forwarder = new Forwarder({
    url: config.upstream.url,
    timeoutMs: config.upstream.timeout,
    connectTimeoutMs: config.upstream.connectTimeout,
  });
  const store = await createStore(config.idempotency, logger, metrics);
  const idem = config.idempotency;
  const terminal = idempotencyTerminal(
    {
      methods: idem.methods,
      required: idem.required,
      ttlMs: idem.ttl,
      leaseMs: idem.lease,
      maxRequestBytes: idem.maxRequestBytes,
      maxResponseBytes: idem.maxResponseBytes,
    },
    store,
    forwarder,
    forwardTerminal(forwarder, (ctx, err) => fail(ctx, err, logger)),
    logger,
    metrics,
  );
  let draining = false;
  const handler = createHandler({
    registry,
    stages,
    terminal,
    logger,
    accessLog,
    metrics,
    isDraining: () => draining,
    maxHeaderCount: config.server.maxHeaderCount,
  });
  const proxyServer = createProxyServer(handler, config.server, (refusal) => recordRefusal(refusal, accessLog, metrics));
  const adminServer = createAdminServer({
    registry: metrics.registry,
    routes: adminRoutes({ token: readTokenFile(config.admin.tokenFile), registry, reload: () => source.load(), logger }),
    readiness: [
      () => (registry.current ? undefined : 'credentials not loaded'),
      () => (draining ? 'draining' : undefined),
      () =>
        // Every store settles within its own deadline (SPEC §9: 1 s), so no second timer is raced here.
        store.ping().then(
          () => undefined,
          () => `idempotency store (${store.kind}) unreachable`,
        ),
    ],
  });
  const proxyAddress = await listen(proxyServer, config.listen);
  const adminAddress = await listen(adminServer, config.admin.listen);
  logger.info({ proxy: proxyAddress, admin: adminAddress, upstream: config.upstream.url.origin }, 'custody-proxy listening');
  logger.flush();

  return {
    proxyAddress,
    adminAddress,
    registry,
    metrics,
    logger,
    reloadCredentials: () => source.load(),
    async shutdown() {
      draining = true;
      await drainServer(proxyServer, config.shutdownTimeout);
      forwarder.close();
      await store.close();
      source.close();
      await new Promise<void>((resolve) => adminServer.close(() => resolve()));
      adminServer.closeAllConnections();
      logger.info('custody-proxy stopped');
      accessLog.flush();
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
    },
  };
}

