// The serve-side watch (SPEC §8 rev 2): judged at each applied load and again on its timer, because an
// unchanged document still ages: a key that enters expiryWarning without a reload is reported by the
// next tick. Gauges are real prom-client gauges, log lines a real pino logger into memory.
import t from 'tap';
import { Writable } from 'node:stream';
import { Gauge, Registry } from 'prom-client';
import { CredentialsRegistry } from '../../../src/credentials/registry.js';
import { LifecycleMonitor } from '../../../src/credentials/lifecycle-monitor.js';
import { parseCredentials } from '../../../src/credentials/document-load.js';
import { createLoggers } from '../../../src/telemetry/logger.js';
import { hashOf } from '../../helpers/credentials.js';
import { waitFor } from '../../helpers/waits.js';

t.test('a key entering expiryWarning is reported by the next tick, not only at load', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(...c.toString('utf8').split('\n').filter(Boolean)), cb()) });
  const { logger } = createLoggers('info', sink, false);
  const prom = new Registry();
  const gauges = { expiring: new Gauge({ name: 'e', help: 'e', registers: [prom] }), rotationDue: new Gauge({ name: 'r', help: 'r', registers: [prom] }) };
  const registry = new CredentialsRegistry();
  const monitor = new LifecycleMonitor(registry, { expiryWarning: 1000, maxAge: 1000 }, logger, gauges, 50);
  t.teardown(() => monitor.close());
  const expiresAt = new Date(Date.now() + 1300).toISOString();
  const doc = parseCredentials(`tenants: [{ id: tnt_m }]\ncredentials:\n  - { keyId: ck_m, tenant: tnt_m, status: active, secretHash: "${hashOf('s')}", expiresAt: "${expiresAt}" }\n`);
  if (!doc.ok) throw new Error(doc.problems.join('; '));
  registry.offer(doc.snapshot, 'test');
  const value = async (): Promise<number | undefined> => (await gauges.expiring.get()).values[0]?.value;
  t.equal(await value(), 0, 'at load: 1.3 s left, beyond the 1 s warning');
  await waitFor(async () => (await value()) === 1, 2000, 'the timer to report the key');
  const warned = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'credential expiring');
  t.match(warned[0], { keyId: 'ck_m', tenant: 'tnt_m', expiresAt });
  t.notMatch(lines.join('\n'), 'sha256:', 'no hash');
});
