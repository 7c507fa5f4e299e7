// Pipelined requests wait their turn (RFC 9112 §9.3, §9.6). Node parses every request in a TCP read
// and hands each to the handler at once, even while an earlier response on the connection is still
// being produced, and even when that response says `Connection: close` (a refusal whose body was never
// read). A request processed then would be forwarded and executed by the upstream although its answer
// can never be written: the client cannot know that its DELETE ran, and a retry runs it twice. So a
// request behind an unfinished response runs only once that response is over, and not at all when the
// connection is closing. The common case, one request at a time, costs one property read.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Node's bookkeeping on a server connection and its responses (undocumented, stable since Node 0.x). */
export interface HttpSocket extends Socket {
  /** the response being written on this connection; later pipelined ones queue behind it */
  _httpMessage?: ServerResponse | null;
}
interface LastResponse extends ServerResponse {
  /** set when the response's headers say the connection closes after it */
  _last?: boolean;
}

/** The connection will carry no further response. */
function closing(socket: Socket, previous: LastResponse | null | undefined): boolean {
  return socket.destroyed || socket.writableEnded || previous?._last === true;
}

/**
 * Whose turn it is on `res`'s connection: 'now' (the common case), 'closed' (no answer to this request
 * could ever be written), or the earlier response still in progress, to be awaited with afterTurn.
 */
export function turnOf(res: ServerResponse): 'now' | 'closed' | ServerResponse {
  const socket = res.req.socket as HttpSocket;
  const previous: LastResponse | null | undefined = socket._httpMessage;
  if (!previous || previous === res) return closing(socket, undefined) ? 'closed' : 'now';
  return closing(socket, previous) ? 'closed' : previous;
}

/**
 * Calls `run` once every response before `res` on its connection is over and the connection stays
 * open, else `drop`. Each pipelined request waits for the one just before it, not only the first.
 */
export function afterTurn(previous: ServerResponse, res: ServerResponse, run: () => void, drop: () => void): void {
  // 'close' follows 'finish' (by then Node has handed the connection to the next response), and comes
  // alone when the connection went away mid-response.
  previous.once('close', () => {
    const turn = previous.writableFinished ? turnOf(res) : 'closed';
    if (turn === 'now') run();
    else if (turn === 'closed') drop();
    else afterTurn(turn, res, run, drop);
  });
}
