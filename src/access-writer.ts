// Batched access lines: collected in memory and handed to the log destination (pino's stdout
// stream, which handles partial writes and ordering) once per 64 KiB or every 100 ms, so a busy
// proxy makes a few writes a second for its access log instead of one per request. Lines are in
// pino's format ({"level","time","service",…,"msg"}).

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 100;

export interface LineSink {
  write(line: string): void;
  flush(): void;
}

export interface Destination {
  write(text: string): unknown;
}

export class BatchedLines implements LineSink {
  private parts: string[] = [];
  private bytes = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly destination: Destination) {
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  write(line: string): void {
    this.parts.push(line);
    this.bytes += line.length;
    if (this.bytes >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.bytes = 0;
    this.destination.write(text);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
