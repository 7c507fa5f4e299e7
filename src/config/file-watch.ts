// Noticing that files a running proxy reads have changed, the way Kubernetes changes them: a mounted
// Secret or ConfigMap is updated by swapping its folder's `..data` symlink, which a watch on the file
// itself does not survive. So the FOLDERS are watched (for the files' names and `..data` only: other
// files there, logs or editor swap files, would cost a read each), and a stat poll backs the watch up
// (watches miss events on some filesystems). The credentials file and the listener's TLS pair use it;
// each caller debounces and reads in its own way.
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../telemetry/logger.js';

export interface FileWatchHooks {
  /** a watch event for one of the files, or a poll that found their stat changed */
  changed(): void;
  /** a poll that found the stat last seen (the files hold what was last read) */
  same?(): void;
}

export class FileWatch {
  private readonly watchers: FSWatcher[] = [];
  private poller: NodeJS.Timeout | undefined;
  private lastStat = '';

  /** `what` names the files in the log lines ("credentials", "TLS"). */
  constructor(
    private readonly files: readonly string[],
    private readonly pollMs: number,
    private readonly what: string,
    private readonly logger: Logger,
  ) {}

  /** Starts watching the files' folders and polling their stat. */
  start(hooks: FileWatchHooks): void {
    const names = new Set([...this.files.map((f) => path.basename(f)), '..data']);
    for (const dir of new Set(this.files.map((f) => path.dirname(f)))) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || names.has(name)) hooks.changed();
        });
        watcher.on('error', (err) => this.logger.warn({ dir, err: String(err) }, `${this.what} folder watch failed; polling only`));
        this.watchers.push(watcher);
      } catch (err) {
        this.logger.warn({ dir, err: String(err) }, `${this.what} folder cannot be watched; polling only`);
      }
    }
    void this.markRead();
    this.poller = setInterval(() => {
      void this.statKey().then((k) => {
        if (k !== this.lastStat) {
          this.lastStat = k;
          hooks.changed();
        } else {
          hooks.same?.();
        }
      });
    }, this.pollMs);
    this.poller.unref();
  }

  /** Takes the files' stat as seen; a reader calls it before reading, so the poll does not report the change it read. */
  async markRead(): Promise<void> {
    this.lastStat = await this.statKey();
  }

  /** stat follows symlinks: a `..data` swap changes the inode, an edit the size or mtime. */
  private async statKey(): Promise<string> {
    const keys = await Promise.all(
      this.files.map(async (file) => {
        try {
          const s = await stat(file);
          return `${s.ino}:${s.size}:${s.mtimeMs}`;
        } catch {
          return 'missing';
        }
      }),
    );
    return keys.join('|');
  }

  close(): void {
    for (const w of this.watchers) w.close();
    clearInterval(this.poller);
  }
}
