// Serve's expiry and rotation watch (SPEC §8 rev 2): at each applied load and every hour, one warn line
// per key expiring within expiryWarning or due for rotation (keyId, tenant and the date; never a hash),
// and the two gauges set to the counts. Hourly because an unchanged document still ages; one unref'd
// timer, so it never keeps the process alive.
import type { Gauge } from 'prom-client';
import type { Logger } from '../telemetry/logger.js';
import { judgedKeys, lifecycleWarnings, type LifecycleLimits } from './lifecycle-warnings.js';
import type { CredentialsRegistry } from './registry.js';
import type { CredentialsSnapshot } from './snapshot.js';

export interface LifecycleGauges {
  readonly expiring: Gauge;
  readonly rotationDue: Gauge;
}

const HOUR_MS = 3_600_000;

export class LifecycleMonitor {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly registry: CredentialsRegistry,
    private readonly limits: LifecycleLimits,
    private readonly logger: Logger,
    private readonly gauges: LifecycleGauges,
    intervalMs = HOUR_MS,
  ) {
    registry.onChange((s) => this.judge(s));
    this.timer = setInterval(() => {
      if (this.registry.current) this.judge(this.registry.current);
    }, intervalMs).unref();
  }

  private judge(snapshot: CredentialsSnapshot): void {
    const warnings = lifecycleWarnings(judgedKeys(snapshot.byKeyId.values()), this.limits, Date.now());
    let expiring = 0;
    for (const w of warnings) {
      const date = new Date(w.at).toISOString();
      if (w.kind === 'expiring') {
        expiring += 1;
        this.logger.warn({ keyId: w.keyId, tenant: w.tenant, expiresAt: date }, 'credential expiring');
      } else {
        this.logger.warn({ keyId: w.keyId, tenant: w.tenant, createdAt: date }, 'credential due for rotation');
      }
    }
    this.gauges.expiring.set(expiring);
    this.gauges.rotationDue.set(warnings.length - expiring);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
