// The proxy listener's rollout drain (SPEC §12 rev 2). Readiness turns 503 at SIGTERM, but endpoints
// controllers and load balancers take seconds to stop sending: for `drainDelay` the listener keeps
// accepting and serving as usual. Then it stops accepting. Connections already open stay open, so a
// request arriving on one is answered (503 SERVICE_UNAVAILABLE, `Connection: close`: the handler asks
// `closing`) rather than reset, and a response still to be written closes its connection after it.
// Once no request is in flight, or when the time is up (or `hurry()`), every connection is closed.
// Over TLS the HTTP connection is the TLSSocket ('secureConnection'); TCP connections still in their
// handshake are tracked apart and cut at the end, since closeAllConnections knows only HTTP ones.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { HttpSocket } from './pipeline/connection-turn.js';
import type { Logger } from './telemetry/logger.js';

export type DrainPhase = 'serving' | 'delaying' | 'closing' | 'closed';

export interface DrainTimes {
  /** how long to keep serving normally before the listener stops accepting */
  readonly delayMs: number;
  /** then, how long in-flight requests get before their connections are cut */
  readonly timeoutMs: number;
}

// How often the closing phase looks for requests still in flight: shutdown only, a few sockets.
const POLL_MS = 20;

export class ListenerDrain {
  #phase: DrainPhase = 'serving';
  readonly #sockets = new Set<HttpSocket>();
  /** over TLS: every TCP connection, handshake done or not */
  readonly #tcp = new Set<net.Socket>();
  /** ends the wait in progress (the drain delay, or the wait for in-flight requests) */
  #hurry: (() => void) | undefined;

  constructor(private readonly server: http.Server, private readonly logger: Logger) {
    const secure = server instanceof tls.Server;
    server.on(secure ? 'secureConnection' : 'connection', (socket: HttpSocket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    if (secure) {
      server.on('connection', (socket: net.Socket) => {
        this.#tcp.add(socket);
        socket.once('close', () => this.#tcp.delete(socket));
      });
    }
  }

  /** Not serving as usual any more: readiness reports it from the first moment of the drain. */
  get stopping(): boolean {
    return this.#phase !== 'serving';
  }

  /** The listener has stopped accepting: requests on open connections get 503 + Connection: close. */
  get closing(): boolean {
    return this.#phase === 'closing' || this.#phase === 'closed';
  }

  /** Ends the drain delay now; once closing, cuts the requests still in flight. */
  hurry(): void {
    this.#hurry?.();
  }

  /** Runs the whole drain; resolves once every connection of the listener is closed. */
  async drain(times: DrainTimes): Promise<void> {
    if (this.#phase !== 'serving') throw new Error('the listener is already draining');
    this.#phase = 'delaying';
    if (times.delayMs > 0) await this.#pause(times.delayMs);
    this.#phase = 'closing';
    this.#stopAccepting();
    const deadline = Date.now() + times.timeoutMs;
    let hurried = false;
    while (!hurried && this.#inFlight() > 0 && Date.now() < deadline) {
      hurried = await this.#pause(Math.min(POLL_MS, deadline - Date.now()));
    }
    const cut = this.#inFlight();
    if (cut > 0) this.logger.warn({ cut, hurried }, hurried ? 'second signal: cutting the requests still in flight' : 'shutdownTimeout passed: cutting the requests still in flight');
    this.#phase = 'closed';
    this.server.closeAllConnections();
    for (const socket of this.#tcp) socket.destroy();
    // http.Server#close now only ends its timeout checks: it stopped accepting already.
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #stopAccepting(): void {
    // net.Server's close, not http.Server's: that one would also destroy the idle keep-alive
    // connections at once, resetting requests already on their way; here they get an answer.
    net.Server.prototype.close.call(this.server);
    for (const socket of this.#sockets) {
      const res = socket._httpMessage;
      // A response not begun yet says `Connection: close` and closes its connection after it.
      if (res && !res.headersSent) res.shouldKeepAlive = false;
    }
    this.logger.info({ inFlight: this.#inFlight() }, 'not accepting connections any more; requests on open ones get 503');
  }

  /** Connections with a response in progress (Node clears _httpMessage once it is finished). */
  #inFlight(): number {
    let n = 0;
    for (const socket of this.#sockets) if (socket._httpMessage) n++;
    return n;
  }

  /** Resolves after ms (false), or at once on hurry() (true). */
  #pause(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#hurry = undefined;
        resolve(false);
      }, ms);
      this.#hurry = () => {
        clearTimeout(timer);
        this.#hurry = undefined;
        resolve(true);
      };
    });
  }
}
