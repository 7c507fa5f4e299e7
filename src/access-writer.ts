// Batched access lines: each line is copied into one preallocated buffer the moment it is written, and
// the buffer is handed to the log destination (pino's stdout stream, which handles partial writes and
// ordering) once per 64 KiB or every 100 ms. A busy proxy makes a few writes a second for its access log,
// and no line outlives its request as a string: strings kept for a batch survived young-generation
// collections and were copied and promoted, which measured as several percent of a GET's CPU.
// Lines are in pino's format ({"level","time","service",…,"msg"}).

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 100;
/** UTF-8 needs at most 3 bytes per UTF-16 code unit */
const MAX_BYTES_PER_UNIT = 3;

export interface LineSink {
  write(line: string): void;
  flush(): void;
}

export interface Destination {
  write(text: string): unknown;
}

export class BatchedLines implements LineSink {
  private readonly buffer = Buffer.allocUnsafe(FLUSH_BYTES);
  private used = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly destination: Destination) {
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  /** `line` without its newline. */
  write(line: string): void {
    const worst = line.length * MAX_BYTES_PER_UNIT + 1;
    if (this.used + worst > this.buffer.length) {
      this.flush();
      // Longer than a whole batch could ever be: passed on by itself, still in order.
      if (worst > this.buffer.length) {
        this.destination.write(`${line}\n`);
        return;
      }
    }
    this.used += this.buffer.write(line, this.used, 'utf8');
    this.buffer[this.used++] = 0x0a;
  }

  flush(): void {
    if (this.used === 0) return;
    const text = this.buffer.toString('utf8', 0, this.used);
    this.used = 0;
    this.destination.write(text);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
