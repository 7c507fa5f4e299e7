// Raw HTTP/1.x responses as the server sent them, for tests that write exact bytes to a socket:
// every response in order (Content-Length bodies, or the rest until close), header lines kept.

export interface RawResponse {
  readonly status: number;
  readonly lines: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
}

/** the body as a JSON object, or {} when it is not one (the assertions on it then fail, not throw) */
export function jsonOf(r: RawResponse): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(r.body.toString('utf8'));
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export const headerOf = (r: RawResponse, name: string): string[] =>
  r.lines.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);

/** Every HTTP/1.x response in what the server sent (Content-Length, chunked or until close). */
export function parseResponses(text: string): RawResponse[] {
  const buf = Buffer.from(text, 'latin1');
  const out: RawResponse[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const end = buf.indexOf('\r\n\r\n', pos, 'latin1');
    if (end === -1) break;
    const head = buf.subarray(pos, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
    if (!m) break;
    const status = Number(m[1]);
    const lines = head.slice(1).map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i).trim(), l.slice(i + 1).trim()] as const;
    });
    pos = end + 4;
    const length = lines.find(([k]) => k.toLowerCase() === 'content-length');
    let body: Buffer;
    if (status < 200) body = Buffer.alloc(0);
    else if (length) {
      body = buf.subarray(pos, pos + Number(length[1]));
      pos += body.length;
    } else {
      body = buf.subarray(pos);
      pos = buf.length;
    }
    out.push({ status, lines, body });
  }
  return out;
}

/** The first response, or undefined when there is none. */
export function parseResponse(text: string): RawResponse | undefined {
  return parseResponses(text)[0];
}
