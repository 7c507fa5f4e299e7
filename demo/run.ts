// `npm run demo`: the bundled custody upstream on 127.0.0.1:3000 and custody-proxy on the example
// config (config/custody-proxy.yaml), in one process, with ready-to-paste curl commands.
import { once } from 'node:events';
import { loadConfig } from '../src/config/load.js';
import { startApp } from '../src/app.js';
import { serveUntilSignalled } from '../src/signals.js';
import { createCustodyUpstream } from './custody-upstream.js';

const DEMO_TOKEN = 'ck_test_demo:sk_test_03_yZ2zHHdSPhHFq4pthoKa8A0d1Uqf0H5Ez_3aVyu0';
const AUDITOR_TOKEN = 'ck_test_auditor:sk_test_r9iIvS6ipq87ftOwLvVpSTCI-t8CppS0dHjDsocbmJk';

const config = loadConfig(process.env['CUSTODY_PROXY_CONFIG'] ?? 'config/custody-proxy.yaml');
const upstream = createCustodyUpstream();
upstream.listen(Number(config.upstream.url.port || 80), config.upstream.url.hostname);
await once(upstream, 'listening');
const app = await startApp(config);
const p = `http://${app.proxyAddress.address}:${app.proxyAddress.port}`;
const a = `http://${app.adminAddress.address}:${app.adminAddress.port}`;

process.stderr.write(`
custody-proxy demo: proxy ${p} → custody upstream ${config.upstream.url.origin}, admin ${a}

  # list the tenant's vaults (the upstream sees X-Tenant-Id: tnt_demo)
  curl -i ${p}/v1/vaults -H 'Authorization: Bearer ${DEMO_TOKEN}'

  # create a vault; retrying with the same Idempotency-Key never creates a second one
  curl -i -X POST ${p}/v1/vaults -H 'Authorization: Bearer ${DEMO_TOKEN}' \\
       -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' -d '{"name":"treasury","asset":"BTC"}'

  # no key → 401 UNAUTHORIZED; the read-only key may not POST → 403 FORBIDDEN
  curl -i ${p}/v1/vaults
  curl -i -X POST ${p}/v1/vaults -H 'Authorization: Bearer ${AUDITOR_TOKEN}' -d '{}'

  curl ${a}/readyz ; curl ${a}/metrics

Ctrl-C stops the demo.
`);

// Ctrl-C stops at once (SIGINT skips drainDelay; see README "Signals"), a second one cuts what is in flight.
await serveUntilSignalled(app);
upstream.close();
