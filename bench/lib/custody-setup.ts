// Writes custody-proxy's config and credentials document for the bench into a temp folder: auth on, a
// few hundred credentials (one used), the used tenant with ipAllowList ["127.0.0.0/8"], logging at info
// (to the child's stdout, which is a file), listening on 127.0.0.1 port 0. JSON is valid YAML 1.2.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CustodySetup {
  readonly configFile: string;
  /** the `Authorization` header value of the one credential the load uses */
  readonly authorization: string;
  readonly tenantId: string;
  readonly credentialCount: number;
}

const hashOf = (secret: string): string => `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex')}`;

/** The config's `idempotency` section (absent: custody-proxy's defaults, a memory store). */
export interface IdempotencySection {
  readonly store: 'memory' | 'redis';
  readonly redis?: { readonly url: string; readonly keyPrefix: string };
  readonly ttl?: string;
}

export function writeCustodySetup(dir: string, upstreamUrl: string, credentialCount = 300, idempotency?: IdempotencySection): CustodySetup {
  const tenantCount = 10;
  const tenants = Array.from({ length: tenantCount }, (_, t) => ({
    id: `tnt_bench_${t}`,
    name: `Bench tenant ${t}`,
    ipAllowList: t % 2 === 0 ? ['127.0.0.0/8'] : ['10.0.0.0/8', '192.168.0.0/16'],
  }));
  const used = { keyId: 'ck_live_bench_0000', secret: `sk_live_${randomBytes(24).toString('base64url')}`, tenant: 'tnt_bench_0' };
  const credentials = Array.from({ length: credentialCount }, (_, i) => {
    const keyId = i === 0 ? used.keyId : `ck_live_bench_${String(i).padStart(4, '0')}`;
    const secret = i === 0 ? used.secret : `sk_live_${randomBytes(24).toString('base64url')}`;
    return {
      keyId,
      tenant: i === 0 ? used.tenant : `tnt_bench_${i % tenantCount}`,
      status: i % 7 === 3 ? 'revoked' : 'active',
      secretHash: hashOf(secret),
      label: `bench key ${i}`,
    };
  });
  writeFileSync(path.join(dir, 'credentials.yaml'), JSON.stringify({ tenants, credentials }, null, 1));
  const config = {
    listen: '127.0.0.1:0',
    admin: { listen: '127.0.0.1:0' },
    upstream: { url: upstreamUrl, timeout: '30s', connectTimeout: '5s' },
    trustedProxies: [],
    credentials: { file: 'credentials.yaml' },
    ...(idempotency === undefined ? {} : { idempotency }),
    logging: { level: 'info' },
    drainDelay: '0s', // the bench stops its proxy between runs: no load balancer to wait for
    shutdownTimeout: '2s',
  };
  const configFile = path.join(dir, 'custody-proxy.yaml');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  return { configFile, authorization: `Bearer ${used.keyId}:${used.secret}`, tenantId: used.tenant, credentialCount };
}

/** The tenant the bench upstream echoes in its JSON answer (undefined when the text is not its JSON). */
export function echoedTenant(text: string): unknown {
  try {
    return (JSON.parse(text) as Record<string, unknown>)['tenant'];
  } catch {
    return undefined;
  }
}
