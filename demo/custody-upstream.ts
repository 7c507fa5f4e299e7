// A tiny stand-in for the custody service behind the proxy: GET/POST /v1/vaults, scoped by the
// X-Tenant-Id the proxy stamps. It trusts that header, as a service behind custody-proxy would.
import http from 'node:http';

interface Vault {
  readonly id: string;
  readonly name: string;
  readonly asset: string;
  readonly createdAt: string;
}

export function createCustodyUpstream(): http.Server {
  const vaults = new Map<string, Vault[]>();
  let seq = 0;
  return http.createServer((req, res) => {
    const tenant = req.headers['x-tenant-id'];
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (typeof tenant !== 'string') return send(400, { error: 'missing X-Tenant-Id' });
    const list = vaults.get(tenant) ?? [];
    if (req.url === '/v1/vaults' && req.method === 'GET') return send(200, { tenant, vaults: list });
    if (req.url === '/v1/vaults' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let input: { name?: unknown; asset?: unknown } = {};
        try {
          input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as typeof input;
        } catch {
          return send(400, { error: 'invalid JSON' });
        }
        seq += 1;
        const vault: Vault = {
          id: `vlt_${String(seq).padStart(4, '0')}`,
          name: typeof input.name === 'string' ? input.name : 'unnamed',
          asset: typeof input.asset === 'string' ? input.asset : 'BTC',
          createdAt: new Date().toISOString(),
        };
        vaults.set(tenant, [...list, vault]);
        send(201, vault);
      });
      return;
    }
    const m = /^\/v1\/vaults\/([^/?]+)$/.exec(req.url ?? '');
    if (m && req.method === 'GET') {
      const v = list.find((x) => x.id === m[1]);
      return v ? send(200, v) : send(404, { error: 'not found' });
    }
    send(404, { error: 'not found' });
  });
}
