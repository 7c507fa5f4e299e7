// Re-reads the listener's certificate and key when either file changes (cert-manager renews in place)
// and hands a proven pair to `apply` (the server's setSecureContext: new connections get the new
// certificate, open ones keep theirs). The files' folders are watched and their stats polled, as for
// the credentials file (config/file-watch.ts: a mounted Secret changes by a `..data` swap). Events are
// debounced, because the two files of one renewal may land apart. A pair that fails (half written, key and certificate from different renewals, expired) is
// refused: the last good one stays, the refusal is logged and counted, and the next change retries.
import type { Logger } from '../telemetry/logger.js';
import { FileWatch } from '../config/file-watch.js';
import { describe, loadPemPair, type PemPair, type TlsFiles } from './pem-pair.js';

const DEBOUNCE_MS = 200;
const POLL_MS = 2000;

export interface ReloadHooks {
  /** installs a proven pair for new connections */
  apply(pair: PemPair): void;
  /** counts a reload by result */
  counted(result: 'applied' | 'rejected'): void;
}

export class CertificateReloader {
  private readonly fileWatch: FileWatch;
  private debounce: NodeJS.Timeout | undefined;

  constructor(
    private readonly files: TlsFiles,
    private current: PemPair,
    private readonly hooks: ReloadHooks,
    private readonly logger: Logger,
  ) {
    this.fileWatch = new FileWatch([files.certFile, files.keyFile], POLL_MS, 'TLS', logger);
  }

  /** Starts watching both files' folders and polling their stats (config/file-watch.ts). */
  watch(): void {
    this.fileWatch.start({ changed: () => this.schedule() });
  }

  private schedule(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload('change'), DEBOUNCE_MS);
    this.debounce.unref();
  }

  /** Reads both files; applies the pair when it is new and good. `trigger` goes into the log lines. */
  async reload(trigger: 'change' | 'SIGHUP'): Promise<'applied' | 'unchanged' | 'rejected'> {
    await this.fileWatch.markRead();
    const result = loadPemPair(this.files);
    if (!result.ok) {
      this.logger.error({ problem: result.problem, inForce: describe(this.current.info), trigger }, 'TLS certificate reload refused; keeping the certificate in force');
      this.hooks.counted('rejected');
      return 'rejected';
    }
    const { pair } = result;
    if (pair.cert.equals(this.current.cert) && pair.key.equals(this.current.key)) return 'unchanged';
    this.hooks.apply(pair);
    const previous = this.current.info;
    this.current = pair;
    this.hooks.counted('applied');
    this.logger.info({ ...describe(pair.info), previousSerialNumber: previous.serialNumber, trigger }, 'TLS certificate reloaded');
    return 'applied';
  }

  close(): void {
    this.fileWatch.close();
    clearTimeout(this.debounce);
  }
}
