// Gauges that report state rather than count events: readiness, requests in flight, the idempotency
// store's health, and the credentials in force with their freshness (SPEC §11 rev 2). Most are read
// at scrape time from the thing they describe, so they cannot drift from it.
import { Gauge, type Registry } from 'prom-client';

/** Checks run at scrape time; set once the thing they check exists (the store is made after the metrics). */
export interface ScrapeChecks {
  storeUp?: () => Promise<unknown>;
  /** what /readyz would answer (credentials loaded, not draining), without its async checks */
  ready?: () => boolean;
}

/** Requests the proxy listener is handling, kept by the request handler as a plain count. */
export interface InFlight {
  requests: number;
}

export function stateGauges(registry: Registry, checks: ScrapeChecks, inFlight: InFlight) {
  return {
    inFlightGauge: new Gauge({
      name: 'custody_proxy_requests_in_flight',
      help: 'Requests on the proxy listener that have started and whose response has not ended',
      registers: [registry],
      collect() {
        this.set(inFlight.requests);
      },
    }),
    ready: new Gauge({
      name: 'custody_proxy_ready',
      help: 'Whether /readyz answers 200 (1: a credentials document is loaded and the proxy is not draining) or 503 (0)',
      registers: [registry],
      collect() {
        this.set(checks.ready?.() === true ? 1 : 0);
      },
    }),
    storeUp: new Gauge({
      name: 'custody_proxy_idempotency_store_up',
      help: 'Whether the idempotency store answered its last check (1) or not (0); checked at every scrape and readiness probe',
      registers: [registry],
      // The store answers or fails within its own 1 s deadline, so a scrape waits at most that long.
      async collect() {
        await checks.storeUp?.();
      },
    }),
  };
}

export function credentialGauges(registry: Registry) {
  return {
    lastReload: new Gauge({
      name: 'custody_proxy_credential_last_reload_timestamp_seconds',
      help: 'Unix time the credentials in force were last loaded or confirmed current (an unchanged file, a 304 from the control endpoint)',
      registers: [registry],
    }),
    lastReloadSuccess: new Gauge({
      name: 'custody_proxy_credentials_last_reload_success',
      help: 'Whether the last credentials load applied or confirmed a document (1) or was refused or failed (0)',
      registers: [registry],
    }),
    credentials: new Gauge({ name: 'custody_proxy_credentials', help: 'Credentials in the document in force, by status', labelNames: ['status'] as const, registers: [registry] }),
    // SPEC §8 rev 2: set at each load and hourly by credentials/lifecycle-monitor.ts
    expiring: new Gauge({
      name: 'custody_proxy_credentials_expiring',
      help: 'Usable credentials (active, or rotated within grace) whose expiresAt is within credentials.expiryWarning',
      registers: [registry],
    }),
    rotationDue: new Gauge({
      name: 'custody_proxy_credentials_rotation_due',
      help: 'Active credentials whose createdAt is more than credentials.maxAge ago (keys without createdAt are not counted)',
      registers: [registry],
    }),
  };
}
