// Batched access lines: each line is copied into one preallocated buffer the moment it is written, and
// the buffer is handed to the log destination (pino's stdout stream, which handles partial writes and
// ordering) once per 64 KiB or every 100 ms. A busy proxy makes a few writes a second for its access log,
// and no line outlives its request as a string: strings kept for a batch survived young-generation
// collections and were copied and promoted, which measured as several percent of a GET's CPU.
// What a line is and how it is written into the buffer is the LineEncoder's (access-line.ts for access lines).

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 100;

/** How one kind of line is written into the batch buffer. */
export interface LineEncoder<T> {
  /** Writes the line (no newline) into `buf` from `at`; returns its end, or -1 when it might not fit before `limit`. */
  encode(value: T, buf: Buffer, at: number, limit: number): number;
  /** the whole line as text, for one too long for any batch */
  text(value: T): string;
}

/** Lines that are already strings. */
export const TEXT_LINES: LineEncoder<string> = {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit
  encode: (line, buf, at, limit) => (at + line.length * 3 > limit ? -1 : at + buf.write(line, at, 'utf8')),
  text: (line) => line,
};

export interface Destination {
  write(text: string): unknown;
}

export class BatchedLines<T> {
  private readonly buffer = Buffer.allocUnsafe(FLUSH_BYTES);
  private used = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly destination: Destination,
    private readonly encoder: LineEncoder<T>,
  ) {
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  write(value: T): void {
    // the last byte is kept for the newline
    let end = this.encoder.encode(value, this.buffer, this.used, FLUSH_BYTES - 1);
    if (end < 0) {
      this.flush();
      end = this.encoder.encode(value, this.buffer, 0, FLUSH_BYTES - 1);
      // Longer than a whole batch could ever be: passed on by itself, still in order.
      if (end < 0) {
        this.destination.write(`${this.encoder.text(value)}\n`);
        return;
      }
    }
    this.buffer[end] = 0x0a;
    this.used = end + 1;
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
