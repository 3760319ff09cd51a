/**
 * The TCP transport's joiners: each `join` address keeps one connection. When it
 * fails or drops, the joiner connects again after REJOIN_MIN_MS, doubling up to
 * REJOIN_MAX_MS while attempts fail, and starts over once a link to the node there is
 * up. It stops only on a failure retrying cannot mend (a refusal, a failed
 * authentication, a peer claiming this node's id). A joiner whose node is still
 * connected another way (the two nodes joined each other, and the other connection
 * won) waits on that link and connects again when it closes. Host layer: it opens
 * Deno sockets; the transport (tcp_transport.ts) runs what it opens.
 */

export const REJOIN_MIN_MS = 100;
export const REJOIN_MAX_MS = 2_000;

/** A `join` address. Fields are written by Joiners and the transport, on the event loop. */
export interface Joiner {
  readonly hostname: string;
  readonly port: number;
  /** The node last reached there (set by the transport at its HELLO), or -1. */
  node: number;
  /** True while a connection it opened is open. */
  open: boolean;
  delayMs: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Set by a failure retrying cannot mend. */
  stopped: boolean;
  /** Resolves join()'s promise with the first attempt's outcome (then a no-op). */
  settle: (up: boolean) => void;
}

/** What the joiners need of the transport. */
export interface JoinerHost {
  /** Runs a connection the joiner opened. */
  start(conn: Deno.Conn, j: Joiner): void;
  /** True while some connection with `node` is open. */
  connected(node: number): boolean;
  warn(line: string): void;
}

export class Joiners {
  readonly #list: Joiner[] = [];
  readonly #host: JoinerHost;
  #closed = false;

  constructor(host: JoinerHost) {
    this.#host = host;
  }

  /** Joins an address for good; resolves true when the first link is up, false if it fails. */
  add(hostname: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const j: Joiner = {
        hostname,
        port,
        node: -1,
        open: false,
        delayMs: REJOIN_MIN_MS,
        timer: undefined,
        stopped: false,
        settle: (up) => {
          j.settle = () => {};
          resolve(up);
        },
      };
      this.#list.push(j);
      this.#connect(j);
    });
  }

  /** A link to `node` is up: its joiners start their backoff over. */
  up(node: number): void {
    for (const j of this.#list) {
      if (j.node !== node) continue;
      j.delayMs = REJOIN_MIN_MS;
      j.settle(true);
    }
  }

  /**
   * A connection closed: the one `j` opened (or null), with `node` (or -1), which
   * was up or not. Rejoins what it served, unless another link to `node` is open.
   */
  closed(j: Joiner | null, node: number, wasUp: boolean): void {
    if (j) j.open = false;
    if (this.#closed || (node >= 0 && this.#host.connected(node))) return;
    for (const o of this.#list) {
      if (o !== j && (node < 0 || o.node !== node)) continue;
      if (wasUp && !o.open && o.timer === undefined && !o.stopped) {
        this.#host.warn(`lost node ${node}; rejoining ${o.hostname}:${o.port}`);
      }
      if (o === j) o.settle(wasUp);
      this.#retry(o);
    }
  }

  /** Ends `j` for good, saying so. */
  stop(j: Joiner): void {
    if (j.stopped) return;
    j.stopped = true;
    j.settle(false);
    this.#host.warn(`not rejoining ${j.hostname}:${j.port}`);
  }

  close(): void {
    this.#closed = true;
    for (const j of this.#list) {
      clearTimeout(j.timer);
      j.settle(false);
    }
  }

  async #connect(j: Joiner): Promise<void> {
    j.timer = undefined;
    if (this.#closed || j.stopped || j.open) return;
    if (j.node >= 0 && this.#host.connected(j.node)) return; // its node's other link serves
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ hostname: j.hostname, port: j.port, transport: "tcp" });
    } catch (e) {
      if (j.delayMs === REJOIN_MIN_MS) {
        this.#host.warn(
          `cannot join ${j.hostname}:${j.port}: ${(e as Error).message}; retrying every ` +
            `${REJOIN_MIN_MS} ms doubling to ${REJOIN_MAX_MS} ms`,
        );
      }
      j.settle(false);
      return this.#retry(j);
    }
    if (this.#closed) return conn.close();
    j.open = true;
    this.#host.start(conn, j);
  }

  #retry(j: Joiner): void {
    if (this.#closed || j.stopped || j.open || j.timer !== undefined) return;
    j.timer = setTimeout(() => this.#connect(j), j.delayMs);
    j.delayMs = Math.min(2 * j.delayMs, REJOIN_MAX_MS);
  }
}
