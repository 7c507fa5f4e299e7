// Re-reads the listener's certificate and key when either file changes (cert-manager renews in place)
// and hands a proven pair to `apply` (the server's setSecureContext: new connections get the new
// certificate, open ones keep theirs). The FOLDERS are watched, as for the credentials file: a mounted
// Secret is updated by swapping its `..data` symlink, which a watch on the file itself does not survive;
// a stat poll backs the watch up. Events are debounced, because the two files of one renewal may land
// apart. A pair that fails (half written, key and certificate from different renewals, expired) is
// refused: the last good one stays, the refusal is logged and counted, and the next change retries.
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../telemetry/logger.js';
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
  private readonly watchers: FSWatcher[] = [];
  private poller: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private lastStat = '';

  constructor(
    private readonly files: TlsFiles,
    private current: PemPair,
    private readonly hooks: ReloadHooks,
    private readonly logger: Logger,
  ) {}

  /** Starts watching both files' folders and polling their stats. */
  watch(): void {
    const names = new Set([path.basename(this.files.certFile), path.basename(this.files.keyFile), '..data']);
    for (const dir of new Set([path.dirname(this.files.certFile), path.dirname(this.files.keyFile)])) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || names.has(name)) this.schedule();
        });
        watcher.on('error', (err) => this.logger.warn({ dir, err: String(err) }, 'TLS folder watch failed; polling only'));
        this.watchers.push(watcher);
      } catch (err) {
        this.logger.warn({ dir, err: String(err) }, 'TLS folder cannot be watched; polling only');
      }
    }
    void this.statKey().then((k) => (this.lastStat = k));
    this.poller = setInterval(() => {
      void this.statKey().then((k) => {
        if (k !== this.lastStat) this.schedule();
      });
    }, POLL_MS);
    this.poller.unref();
  }

  private schedule(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload(), DEBOUNCE_MS);
    this.debounce.unref();
  }

  /** Reads both files; applies the pair when it is new and good. Exposed for tests and SIGHUP-like triggers. */
  async reload(): Promise<'applied' | 'unchanged' | 'rejected'> {
    this.lastStat = await this.statKey();
    const result = loadPemPair(this.files);
    if (!result.ok) {
      this.logger.error({ problem: result.problem, inForce: describe(this.current.info) }, 'TLS certificate reload refused; keeping the certificate in force');
      this.hooks.counted('rejected');
      return 'rejected';
    }
    const { pair } = result;
    if (pair.cert.equals(this.current.cert) && pair.key.equals(this.current.key)) return 'unchanged';
    this.hooks.apply(pair);
    const previous = this.current.info;
    this.current = pair;
    this.hooks.counted('applied');
    this.logger.info({ ...describe(pair.info), previousSerialNumber: previous.serialNumber }, 'TLS certificate reloaded');
    return 'applied';
  }

  /** stat follows symlinks: a `..data` swap changes the inode, an edit the size or mtime. */
  private async statKey(): Promise<string> {
    const key = async (file: string): Promise<string> => {
      try {
        const s = await stat(file);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    };
    return `${await key(this.files.certFile)}|${await key(this.files.keyFile)}`;
  }

  close(): void {
    for (const w of this.watchers) w.close();
    clearInterval(this.poller);
    clearTimeout(this.debounce);
  }
}
