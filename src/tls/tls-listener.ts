// The client listener's TLS (SPEC §3, §12 rev 2), as the wiring uses it: the pair proven before the
// server exists (a bad one stops the start, as `check` reports it), then, once the server is up, its
// reloads (certificate-reloader.ts), its metrics and its failed handshakes. A failed handshake is not
// an HTTP parser error: it has no request, no request id and nothing to answer, so it is counted by
// reason and logged without OpenSSL's message (which names source files, never secrets, but is noise).
import type http from 'node:http';
import type net from 'node:net';
import type tls from 'node:tls';
import type { Registry } from 'prom-client';
import { ProblemsError } from '../config/problems.js';
import type { Logger } from '../telemetry/logger.js';
import { handshakeFailureReason, tlsMetrics, type TlsMetrics } from '../telemetry/tls-metrics.js';
import { CertificateReloader } from './certificate-reloader.js';
import { describe, loadPemPair, secureOptions, type PemPair, type TlsFiles } from './pem-pair.js';

export interface ListenerTls {
  /** what createProxyServer takes */
  readonly options: tls.SecureContextOptions;
  /** starts the reloads and the handshake accounting on the server built with `options` */
  attach(server: http.Server): void;
  /** SIGHUP: re-reads both files now (what a watch or poll might not have seen) */
  reload(): Promise<'applied' | 'unchanged' | 'rejected'>;
  close(): void;
}

/** Reads and proves the pair; a bad one is a config problem that stops `serve`. */
export function prepareListenerTls(files: TlsFiles, configFile: string, logger: Logger, registry: Registry): ListenerTls {
  const first = loadPemPair(files);
  if (!first.ok) throw new ProblemsError('config', configFile, [first.problem]);
  const metrics = tlsMetrics(registry);
  metrics.expiry.set(first.pair.info.notAfter / 1000);
  let reloader: CertificateReloader | undefined;
  return {
    options: secureOptions(first.pair, files.minVersion),
    attach(server) {
      const setContext = (server as unknown as tls.Server).setSecureContext.bind(server);
      reloader = new CertificateReloader(files, first.pair, {
        apply: (pair: PemPair) => {
          setContext(secureOptions(pair, files.minVersion));
          metrics.expiry.set(pair.info.notAfter / 1000);
        },
        counted: (result) => metrics.reloads.inc({ result }),
      }, logger);
      reloader.watch();
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: net.Socket) => countHandshakeFailure(err, socket, logger, metrics));
      logger.info({ ...describe(first.pair.info), minVersion: files.minVersion }, 'TLS listener certificate');
    },
    reload: () => reloader?.reload('SIGHUP') ?? Promise.resolve('unchanged'),
    close: () => reloader?.close(),
  };
}

// A peer that connects and leaves without a hello (a TCP health check, a port scan) is routine: debug.
// A refused hello (old protocol version, no shared cipher) is a client to fix or a probe: info.
function countHandshakeFailure(err: NodeJS.ErrnoException, socket: net.Socket, logger: Logger, metrics: TlsMetrics): void {
  const reason = handshakeFailureReason(err.code);
  metrics.handshakeFailures.inc({ reason });
  const fields = { reason, code: err.code ?? null, peer: socket.remoteAddress ?? null };
  if (reason === 'disconnected') logger.debug(fields, 'TLS handshake failed');
  else logger.info(fields, 'TLS handshake failed');
}
