/**
 * One TCP connection of the transport (tcp_transport.ts): how far its handshake has
 * got, its output queue, and its liveness probe. Host layer. Every field is written
 * on the event loop only, by the link itself or by the transport.
 */

import { Control, control, NONCE_BYTES, sameBytes, TOKEN_BYTES } from "./tcp_handshake.ts";
import type { Joiner } from "./tcp_joiners.ts";

/** A peer that lets this much output pile up is too slow to keep. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/** How long a link has to answer a PING before it counts as dead. */
export const PROBE_MS = 2_000;

/** An outstanding PING. */
interface Probe {
  token: Uint8Array;
  done: Promise<boolean>;
  finish: (alive: boolean) => void;
}

export class TcpLink {
  readonly conn: Deno.Conn;
  /** The joiner that opened it, or null if it was accepted. */
  readonly joiner: Joiner | null;
  readonly myNonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  /** The node its HELLO named, or -1. */
  node = -1;
  theirNonce: Uint8Array | null = null;
  /** Its AUTH checked out; `incarnation` is the one it proved. */
  authenticated = false;
  incarnation = 0;
  /** This node sent ADMIT: the link is its link to `node`. */
  admitted = false;
  /** The peer sent ADMIT. */
  theirAdmit = false;
  /** Both admitted: memory traffic flows. */
  up = false;
  /** This node sent REFUSE: it half-closes once that is written, then waits for the hang-up. */
  refusing = false;
  /** The handshake's deadline. */
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly #me: number;
  readonly #fail: (link: TcpLink, reason: string) => void;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #closed = false;
  #probe: Probe | null = null;

  /** A link of node `me`; `fail` is called (once is enough) when writing fails. */
  constructor(
    conn: Deno.Conn,
    joiner: Joiner | null,
    me: number,
    fail: (link: TcpLink, reason: string) => void,
  ) {
    this.conn = conn;
    this.joiner = joiner;
    this.#me = me;
    this.#fail = fail;
  }

  /** True if this node opened the connection (joined). */
  get initiator(): boolean {
    return this.joiner !== null;
  }

  /** Bytes waiting to be written. */
  get queued(): number {
    return this.#queued;
  }

  /** Queues frame bytes; a peer that stopped reading fails the link instead. */
  write(bytes: Uint8Array): void {
    if (this.#closed) return;
    if (this.#queued + bytes.length > MAX_QUEUED_BYTES) {
      return this.#fail(this, "it stopped reading (output queue full)");
    }
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (!this.#writing) this.#flush();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length) {
        const b = this.#queue.shift()!;
        this.#queued -= b.length;
        let off = 0;
        while (off < b.length) off += await this.conn.write(b.subarray(off));
      }
      if (this.refusing) await this.conn.closeWrite().catch(() => {});
    } catch (e) {
      this.#fail(this, `write failed: ${e}`);
    } finally {
      this.#writing = false;
    }
  }

  /** PINGs the peer; resolves true on its PONG, false after PROBE_MS or on close. */
  probe(): Promise<boolean> {
    if (this.#probe) return this.#probe.done;
    const token = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
    let settle!: (alive: boolean) => void;
    const done = new Promise<boolean>((r) => settle = r);
    const timer = setTimeout(() => probe.finish(false), PROBE_MS);
    const probe: Probe = {
      token,
      done,
      finish: (alive) => {
        clearTimeout(timer);
        if (this.#probe === probe) this.#probe = null;
        settle(alive);
      },
    };
    this.#probe = probe;
    this.write(control(this.#me, Control.PING, token));
    return done;
  }

  /** Answers a PING, or takes a PONG; false if `kind` is neither. */
  liveness(kind: number, body: Uint8Array): boolean {
    if (kind === Control.PING && body.length === TOKEN_BYTES) {
      this.write(control(this.#me, Control.PONG, body.slice()));
      return true;
    }
    if (kind !== Control.PONG) return false;
    if (this.#probe && sameBytes(body, this.#probe.token)) this.#probe.finish(true);
    return true;
  }

  /** Closes the socket; an outstanding probe finds the link dead. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.timer);
    this.#probe?.finish(false);
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}
