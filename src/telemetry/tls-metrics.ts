// The TLS listener's metrics (SPEC §12 rev 2), registered only when `tls` is configured: an expiry
// timestamp of 0 on a plain listener would read as a certificate that expired in 1970. Labels come
// from fixed lists and every series is exported at 0 from start.
import { Gauge, type Registry } from 'prom-client';
import { labelledCounter } from './metrics.js';

/** Why a handshake failed, bucketed from Node's error code (OpenSSL's reasons are too many to be labels). */
export const HANDSHAKE_FAILURE_REASONS = ['disconnected', 'timeout', 'protocol', 'other'] as const;
export type HandshakeFailureReason = (typeof HANDSHAKE_FAILURE_REASONS)[number];

export const CERTIFICATE_RELOAD_RESULTS = ['applied', 'rejected'] as const;

export function tlsMetrics(registry: Registry) {
  const handshakeFailures = labelledCounter(
    registry,
    'custody_proxy_tls_handshake_failures_total',
    'TLS handshakes on the client listener that failed, by reason: disconnected (closed before finishing), timeout, protocol (version, cipher, malformed hello), other',
    'reason',
    HANDSHAKE_FAILURE_REASONS,
  );
  const reloads = labelledCounter(
    registry,
    'custody_proxy_tls_certificate_reloads_total',
    'Re-reads of the listener certificate and key after a file change, by result: applied, or rejected (the certificate in force stays)',
    'result',
    CERTIFICATE_RELOAD_RESULTS,
  );
  const expiry = new Gauge({
    name: 'custody_proxy_tls_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the listener certificate in force, as a Unix timestamp',
    registers: [registry],
  });
  return { handshakeFailures, reloads, expiry };
}

export type TlsMetrics = ReturnType<typeof tlsMetrics>;

/** The reason label of a failed handshake. */
export function handshakeFailureReason(code: string | undefined): HandshakeFailureReason {
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') return 'disconnected';
  if (code?.startsWith('ERR_SSL_')) return 'protocol';
  return 'other';
}
