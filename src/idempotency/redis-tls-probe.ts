// Finds the certificate error ioredis loses on Sentinel and Cluster (ioredis 6). Both ask their first
// question on a connection of their own whose 'error' events go to a no-op listener: Sentinel asks each
// sentinel for the master on a throwaway client (SentinelConnector#resolve), Cluster asks a node for the
// slot map on a duplicate of its connection (Cluster#getInfoFromNode). A failed TLS handshake there
// reaches us only as "Connection is closed." (the queued command's failure): in the client's 'error'
// ("All sentinels are unreachable … Last error: Connection is closed.") or in 'node error'. Neither
// connection is reachable through a public API (the only way in would be overriding a private method),
// so after such an error the same handshake is made again here, with the same TLS options, and its
// error is what gets reported. Only when `tls: true`; at most once per address per interval.
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { tlsOf, type RedisNode, type RedisTopology } from './redis-connection.js';

/** How often one address is probed (the log line itself comes at most every 10 s). */
export const PROBE_EVERY_MS = 10_000;
const HANDSHAKE_TIMEOUT_MS = 2000;

export interface TlsProbe {
  /** After an error that said nothing of why: probe `address` (host:port), or else every sentinel. */
  recheck(address: string | undefined): void;
  /** Ends the handshakes under way (the client was closed). */
  stop(): void;
}

/** `host:port` (the host may be IPv6) to a node, or undefined. */
function nodeOf(address: string): RedisNode | undefined {
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  return at > 0 && Number.isInteger(port) && port > 0 ? { host: address.slice(0, at), port } : undefined;
}

/**
 * A prober for the topology, or undefined when there is nothing to find (no TLS, or a single server,
 * whose certificate error ioredis does report). onError gets each failed handshake's error.
 */
export function tlsProbeFor(topology: RedisTopology, onError: (err: Error, address: string) => void): TlsProbe | undefined {
  if ('url' in topology) return undefined;
  const tls = tlsOf(topology);
  if (!tls) return undefined;
  // Without an address (a Sentinel client's 'error'), the sentinels: the master's errors carry their own.
  const fallback = 'sentinels' in topology ? topology.sentinels.map((n) => `${n.host}:${n.port}`) : [];
  const lastProbe = new Map<string, number>();
  const open = new Set<TLSSocket>();
  let stopped = false;
  const probe = (address: string): void => {
    const node = nodeOf(address);
    const now = performance.now();
    if (stopped || !node || now - (lastProbe.get(address) ?? -Infinity) < PROBE_EVERY_MS) return;
    lastProbe.set(address, now);
    const socket = handshake(node, tls, (err) => {
      open.delete(socket);
      if (err && !stopped) onError(err, address);
    });
    open.add(socket);
  };
  return {
    recheck: (address) => (address === undefined ? fallback : [address]).forEach(probe),
    stop: () => {
      stopped = true;
      for (const s of open) s.destroy();
      open.clear();
    },
  };
}

/** A TLS handshake as ioredis makes it (its connector spreads the tls options over host and port). */
function handshake(node: RedisNode, tls: ConnectionOptions, done: (err: Error | undefined) => void): TLSSocket {
  let finished = false;
  const finish = (err: Error | undefined): void => {
    if (finished) return;
    finished = true;
    socket.destroy();
    done(err);
  };
  const socket = connect({ host: node.host, port: node.port, ...tls });
  // A probe must never keep the process alive, nor hang: a silent server is not what it looks for.
  socket.unref();
  socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => finish(undefined));
  socket.once('secureConnect', () => finish(undefined));
  socket.on('error', finish);
  socket.once('close', () => finish(undefined));
  return socket;
}
