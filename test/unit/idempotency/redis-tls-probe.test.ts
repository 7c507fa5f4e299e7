// The TLS probe behind the Sentinel and Cluster certificate reasons (redis-tls-probe.ts), against a real
// TLS server on 127.0.0.1 whose certificate a test CA signed: with another CA the handshake's error is
// handed on with the address, with the right CA nothing is; one address is probed at most once per
// interval; without an address a Sentinel topology probes its sentinels; no TLS, no probe.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:tls';
import t, { type Test } from 'tap';
import { tlsProbeFor } from '../../../src/idempotency/redis-tls-probe.js';
import { makeCa } from '../../helpers/test-certificates.js';
import { waitFor } from '../../helpers/waits.js';

const ca = makeCa();
t.teardown(() => ca.remove());
const otherCa = makeCa();
t.teardown(() => otherCa.remove());
const leaf = ca.issue('probe', '7a');

async function startServer(t: Test): Promise<{ server: Server; address: string; connections: () => number }> {
  const server = createServer({ cert: readFileSync(leaf.certFile), key: readFileSync(leaf.keyFile) });
  let connections = 0;
  server.on('connection', () => connections++);
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

type Found = Array<{ message: string; address: string }>;
const node = (address: string) => ({ host: '127.0.0.1', port: Number(address.split(':')[1]) });

t.test('another CA: the certificate error, with the address, once per interval', async (t) => {
  const { address, connections } = await startServer(t);
  const found: Found = [];
  const probe = tlsProbeFor({ cluster: [node(address)], tls: true, ca: readFileSync(otherCa.caFile) }, (err, at) => found.push({ message: err.message, address: at }));
  t.ok(probe, 'a prober for a Cluster with tls: true');
  t.teardown(() => probe?.stop());
  probe?.recheck(address);
  await waitFor(() => found.length > 0, 5000, 'the handshake error');
  t.match(found[0]?.message, /self[- ]signed|unable to (verify|get local issuer)/i, `the certificate problem: ${found[0]?.message}`);
  t.equal(found[0]?.address, address, 'with the address probed');
  probe?.recheck(address);
  probe?.recheck(undefined);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(connections(), 1, 'probed once: again within the interval, or without an address in a Cluster, opens nothing');
});

t.test('the right CA: nothing to report', async (t) => {
  const { address, connections } = await startServer(t);
  const found: Found = [];
  const probe = tlsProbeFor({ cluster: [node(address)], tls: true, ca: readFileSync(ca.caFile) }, (err, at) => found.push({ message: err.message, address: at }));
  t.teardown(() => probe?.stop());
  probe?.recheck(address);
  await waitFor(() => connections() === 1, 5000, 'the probe to connect');
  await new Promise((r) => setTimeout(r, 300));
  t.same(found, [], 'no error');
});

t.test('Sentinel: without an address, every sentinel', async (t) => {
  const servers = [await startServer(t), await startServer(t)];
  const found: Found = [];
  const sentinels = servers.map((s) => node(s.address));
  const probe = tlsProbeFor({ sentinels, name: 'm', tls: true }, (err, at) => found.push({ message: err.message, address: at }));
  t.teardown(() => probe?.stop());
  probe?.recheck(undefined);
  await waitFor(() => found.length === 2, 5000, 'both sentinels');
  t.same(found.map((f) => f.address).sort(), servers.map((s) => s.address).sort(), 'each sentinel reported (system roots do not know the test CA)');
});

t.test('nothing to probe without TLS, or for one server (whose errors ioredis reports)', async (t) => {
  t.equal(tlsProbeFor({ cluster: [{ host: '127.0.0.1', port: 1 }] }, () => {}), undefined, 'Cluster without tls');
  t.equal(tlsProbeFor({ sentinels: [{ host: '127.0.0.1', port: 1 }], name: 'm', tls: false }, () => {}), undefined, 'Sentinel with tls: false');
  t.equal(tlsProbeFor({ url: 'rediss://127.0.0.1:1' }, () => {}), undefined, 'a rediss:// url');
});

t.test('stop ends a handshake under way, and nothing is probed after', async (t) => {
  // A server that accepts and never answers: the handshake waits (2 s) unless stop ends it.
  const closed: Array<Promise<unknown>> = [];
  const silent = createNetServer((socket) => {
    closed.push(once(socket, 'close'));
    socket.resume();
  });
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => new Promise<void>((resolve) => silent.close(() => resolve())));
  const address = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
  const { address: other, connections } = await startServer(t);
  const probe = tlsProbeFor({ cluster: [node(address)], tls: true }, () => t.fail('nothing to report'));
  probe?.recheck(address);
  await waitFor(() => closed.length === 1, 5000, 'the probe to connect');
  probe?.stop();
  const ended = await Promise.race([closed[0]?.then(() => true), new Promise((r) => setTimeout(() => r(false), 1000))]);
  t.ok(ended, 'the connection closed at once');
  probe?.recheck(other);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(connections(), 0, 'a stopped prober opens nothing');
});
