/**
 * Nodes in separate Deno processes or hosts, joined over TCP with the same wire
 * format as the emulated network. Host layer: it uses Deno's sockets.
 *
 * A connection goes HELLO → AUTH → ADMIT (tcp_handshake.ts has the frames and the
 * MAC): each side proves it holds the cluster secret and names its incarnation, then
 * decides whether to take the link, and says so. The link carries memory traffic
 * once both have admitted it. A peer that sends anything else first, a second HELLO,
 * a frame longer than a handshake frame, fails the check, breaks the framing, or
 * takes longer than HANDSHAKE_MS is dropped with a logged reason; the node keeps
 * serving everyone else. A frame with a bad checksum from an admitted peer is dropped
 * alone (the kernel counts it). Frames after the handshake are not individually
 * authenticated: the cluster trusts its LAN (000 §3.5).
 *
 * A node id is one node. When a connection authenticates as node N while a link to
 * N is already admitted, the decision (`#admit`) is:
 *   - the same incarnation: one process, two connections (both joined at once, or it
 *     joined again before its old connection was seen to close). The connection the
 *     lower node id opened stays, on both sides alike; of two opened by the same
 *     side, the newer. Nothing is logged.
 *   - another incarnation: a restart, or a second process with a taken id. The old
 *     link is probed (PING; PROBE_MS for its PONG). If it answers, N is alive there:
 *     the newcomer is refused with a REFUSE frame naming the reason, logged on both
 *     sides, and the old link is untouched. If it does not answer, or closes, N has
 *     restarted: the old link is dropped (logged) and the new one admitted.
 *
 * Joiners reconnect. A node given `join` addresses keeps one connection to each:
 * when it fails or drops, it reconnects after REJOIN_MIN_MS, doubling up to
 * REJOIN_MAX_MS while attempts fail, and starting over once a link is admitted. It
 * stops only on a refusal, a failed authentication, or a peer claiming its own id,
 * which retrying cannot mend. A joiner whose node is still connected another way (the
 * two nodes joined each other) waits on that link and reconnects when it drops.
 */

import { checkFrame, FrameReader, FrameType, frameType } from "../net/wire.ts";
import { type ControlFrame, decodeControl } from "../net/control_frames.ts";
import {
  AUTH_BYTES,
  authBody,
  authIncarnation,
  authMac,
  Control,
  control,
  importSecret,
  MAC_BYTES,
  NONCE_BYTES,
  refusal,
  sameBytes,
  TOKEN_BYTES,
} from "./tcp_handshake.ts";
import type { Kernel } from "../kernel.ts";

const HANDSHAKE_MS = 5_000;
/** How long an admitted link has to answer a PING before it counts as dead. */
const PROBE_MS = 2_000;
/** The largest frame accepted before admission (handshake frames are small). */
const HANDSHAKE_FRAME_BYTES = 256;
/** A peer that lets this much output pile up is too slow to keep. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
export const REJOIN_MIN_MS = 100;
export const REJOIN_MAX_MS = 2_000;

export interface TcpOptions {
  listen?: { hostname: string; port: number };
  join?: { hostname: string; port: number }[];
  secret: string;
}

/** A `join` address and its one connection. Owned by the transport. */
interface Joiner {
  hostname: string;
  port: number;
  /** The node last reached there, or -1. */
  node: number;
  /** Its open connection, if any. */
  peer: Peer | null;
  delayMs: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Set by a failure retrying cannot mend. */
  stopped: boolean;
  /** Resolves join()'s promise with the first attempt's outcome (then a no-op). */
  settle: (up: boolean) => void;
}

/** An outstanding PING on a link. */
interface Probe {
  token: Uint8Array;
  done: Promise<boolean>;
  finish: (alive: boolean) => void;
}

/** One TCP connection. Every field is written on the event loop only. */
interface Peer {
  conn: Deno.Conn;
  /** The node its HELLO named, or -1. */
  node: number;
  /** True if this node opened the connection (joined). */
  initiator: boolean;
  joiner: Joiner | null;
  myNonce: Uint8Array;
  theirNonce: Uint8Array | null;
  /** Its AUTH checked out; `incarnation` is the one it proved. */
  authenticated: boolean;
  incarnation: number;
  /** We sent ADMIT: the link is this node's link to `node` (in #peers). */
  admitted: boolean;
  /** It sent ADMIT. */
  theirAdmit: boolean;
  /** Both admitted: memory traffic flows. */
  up: boolean;
  /** We sent REFUSE and wait for it to hang up. */
  refusing: boolean;
  probe: Probe | null;
  queue: Uint8Array[];
  queued: number;
  writing: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

export class TcpTransport {
  readonly #k: Kernel;
  readonly #key: Promise<CryptoKey>;
  /** Each node's admitted connection. */
  readonly #peers = new Map<number, Peer>();
  readonly #all = new Set<Peer>();
  readonly #joiners: Joiner[] = [];
  #listener: Deno.Listener | null = null;
  #closed = false;
  #receive: (bytes: Uint8Array, from: number) => void;
  /** Called when a link comes up (tests and the CLI wait on it). */
  onPeer: (node: number) => void = () => {};

  constructor(kernel: Kernel, secret: string) {
    this.#key = importSecret(secret);
    this.#k = kernel;
    // Replies come from sockets, on the event loop: the kernel must not out-spin them.
    kernel.trapService.arrivesOnEventLoop();
    this.#receive = kernel.nic.attach({
      send: (to, bytes) => this.send(to, bytes),
      reachable: (node) => node === kernel.nodeId || this.#peers.get(node)?.up === true,
      backlog: (node) => this.#peers.get(node)?.queued ?? 0,
    });
  }

  /** Listens for peers; returns the address actually bound (port 0 picks one). */
  listen(hostname: string, port: number): Deno.NetAddr {
    this.#listener = Deno.listen({ hostname, port, transport: "tcp" });
    (async () => {
      for await (const conn of this.#listener!) this.#start(conn, null);
    })().catch(() => {});
    return this.#listener.addr as Deno.NetAddr;
  }

  /**
   * Joins the node at an address and keeps rejoining it (see the top). Resolves true
   * when the first link there comes up, false if the first attempt fails.
   */
  join(hostname: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const j: Joiner = {
        hostname,
        port,
        node: -1,
        peer: null,
        delayMs: REJOIN_MIN_MS,
        timer: undefined,
        stopped: false,
        settle: (up) => {
          j.settle = () => {};
          resolve(up);
        },
      };
      this.#joiners.push(j);
      this.#connect(j);
    });
  }

  /** Sends frame bytes to a node (itself: a loopback). */
  send(to: number, bytes: Uint8Array): void {
    if (to === this.#k.nodeId) return this.#receive(bytes, to);
    const peer = this.#peers.get(to);
    if (!peer?.up) return; // like a lost frame
    this.#write(peer, bytes);
  }

  /** Nodes whose links are up. */
  get peers(): number[] {
    return [...this.#peers.values()].filter((p) => p.up).map((p) => p.node);
  }

  close(): void {
    this.#closed = true;
    this.#listener?.close();
    for (const j of this.#joiners) {
      clearTimeout(j.timer);
      j.settle(false);
    }
    for (const p of this.#all) this.#drop(p, "");
  }

  // -- Joiners ----------------------------------------------------------------

  async #connect(j: Joiner): Promise<void> {
    j.timer = undefined;
    if (this.#closed || j.stopped || j.peer) return;
    if (j.node >= 0 && this.#connected(j.node)) return; // its node's other link serves
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ hostname: j.hostname, port: j.port, transport: "tcp" });
    } catch (e) {
      if (j.delayMs === REJOIN_MIN_MS) {
        this.#k.tracer.warn(
          `cannot join ${j.hostname}:${j.port}: ${(e as Error).message}; retrying every ` +
            `${REJOIN_MIN_MS} ms doubling to ${REJOIN_MAX_MS} ms`,
        );
      }
      j.settle(false);
      return this.#retry(j);
    }
    if (this.#closed) return conn.close();
    this.#start(conn, j);
  }

  #retry(j: Joiner): void {
    if (this.#closed || j.stopped || j.peer || j.timer !== undefined) return;
    j.timer = setTimeout(() => this.#connect(j), j.delayMs);
    j.delayMs = Math.min(2 * j.delayMs, REJOIN_MAX_MS);
  }

  /** Ends a joiner for good, saying why. */
  #stopJoining(peer: Peer): void {
    const j = peer.joiner;
    if (!j || j.stopped) return;
    j.stopped = true;
    j.settle(false);
    this.#k.tracer.warn(`not rejoining ${j.hostname}:${j.port}`);
  }

  /** True while some connection with `node` is open. */
  #connected(node: number): boolean {
    for (const p of this.#all) if (p.node === node) return true;
    return false;
  }

  /** After `peer` closed: rejoins what it served, unless another link to its node is open. */
  #rejoinAfter(peer: Peer): void {
    if (peer.joiner?.peer === peer) peer.joiner.peer = null;
    if (this.#closed || (peer.node >= 0 && this.#connected(peer.node))) return;
    for (const j of this.#joiners) {
      if (j === peer.joiner || (peer.node >= 0 && j.node === peer.node)) {
        if (peer.up && j.peer === null && j.timer === undefined && !j.stopped) {
          this.#k.tracer.warn(`lost node ${peer.node}; rejoining ${j.hostname}:${j.port}`);
        }
        if (j === peer.joiner && !peer.up) j.settle(false);
        this.#retry(j);
      }
    }
  }

  // -- Connections ------------------------------------------------------------

  #start(conn: Deno.Conn, joiner: Joiner | null): void {
    const peer: Peer = {
      conn,
      node: -1,
      initiator: joiner !== null,
      joiner,
      myNonce: crypto.getRandomValues(new Uint8Array(NONCE_BYTES)),
      theirNonce: null,
      authenticated: false,
      incarnation: 0,
      admitted: false,
      theirAdmit: false,
      up: false,
      refusing: false,
      probe: null,
      queue: [],
      queued: 0,
      writing: false,
      timer: undefined,
    };
    if (joiner) joiner.peer = peer;
    peer.timer = setTimeout(() => {
      if (!peer.up) this.#drop(peer, peer.refusing ? "" : "handshake timed out");
    }, HANDSHAKE_MS);
    this.#all.add(peer);
    this.#write(peer, control(this.#k.nodeId, Control.HELLO, peer.myNonce));
    // A reset is a peer that hung up with frames still unread (its process ended
    // between two heartbeats): dropped quietly, as at end of stream; the failure
    // detector says what became of the node.
    this.#read(peer).catch((e) =>
      this.#drop(peer, e instanceof Deno.errors.ConnectionReset ? "" : `connection error: ${e}`)
    );
  }

  async #read(peer: Peer): Promise<void> {
    const reader = new FrameReader();
    for await (const chunk of peer.conn.readable) {
      reader.push(chunk);
      const limit = () => peer.up ? undefined : HANDSHAKE_FRAME_BYTES;
      for (let bytes = reader.next(limit()); bytes !== null; bytes = reader.next(limit())) {
        if (bytes === "bad-length") return void this.#drop(peer, "broken framing");
        if (peer.refusing) continue; // refused: waiting for it to hang up
        if (peer.up && frameType(bytes) !== FrameType.CONTROL) this.#receive(bytes, peer.node);
        else if (!(await this.#control(peer, bytes))) return;
      }
    }
    this.#drop(peer, "");
  }

  /** Handles a control frame, or any frame before the link is up; false if dropped. */
  async #control(peer: Peer, bytes: Uint8Array): Promise<boolean> {
    const bad = checkFrame(bytes);
    const f = bad ?? (frameType(bytes) === FrameType.CONTROL ? decodeControl(bytes) : null);
    if (peer.up) {
      // A broken or unknown control frame is the kernel's to count or ignore.
      if (f === null || typeof f === "string" || !this.#liveness(peer, f)) {
        this.#receive(bytes, peer.node);
      }
      return true;
    }
    if (f === null || typeof f === "string") {
      const what = typeof f === "string" ? f : "data";
      return this.#drop(
        peer,
        peer.authenticated
          ? `node ${peer.node} sent ${what} before its link was admitted`
          : `unauthenticated peer sent ${what}`,
      );
    }
    if (peer.theirNonce && f.srcNode !== peer.node) {
      return this.#drop(peer, `a frame from node ${f.srcNode} on node ${peer.node}'s link`);
    }
    switch (f.kind) {
      case Control.HELLO:
        return await this.#hello(peer, f);
      case Control.AUTH:
        if (!peer.theirNonce || peer.authenticated) break;
        return await this.#checkAuth(peer, f);
      case Control.ADMIT:
        if (!peer.authenticated || peer.theirAdmit || f.body.length !== 0) break;
        peer.theirAdmit = true;
        this.#maybeUp(peer);
        return true;
      case Control.REFUSE: {
        if (!peer.theirNonce) break;
        const reason = new TextDecoder().decode(f.body).replace(/[^\x20-\x7e]/g, "?");
        this.#drop(peer, `node ${peer.node} refused this node: ${reason}`);
        this.#stopJoining(peer);
        return false;
      }
      default:
        if (peer.authenticated && this.#liveness(peer, f)) return true;
    }
    return this.#drop(peer, "unexpected handshake frame");
  }

  /** Answers a PING and takes a PONG; false if `f` is neither. */
  #liveness(peer: Peer, f: ControlFrame): boolean {
    if (f.kind === Control.PING && f.body.length === TOKEN_BYTES) {
      this.#write(peer, control(this.#k.nodeId, Control.PONG, f.body.slice()));
      return true;
    }
    if (f.kind !== Control.PONG) return false;
    if (peer.probe && sameBytes(f.body, peer.probe.token)) peer.probe.finish(true);
    return true;
  }

  async #hello(peer: Peer, f: ControlFrame): Promise<boolean> {
    if (peer.theirNonce) return this.#drop(peer, "a second HELLO on one connection");
    if (f.body.length !== NONCE_BYTES) return this.#drop(peer, "a malformed HELLO");
    if (f.srcNode === this.#k.nodeId) {
      this.#drop(peer, `peer claims our own node id ${f.srcNode}`);
      this.#stopJoining(peer);
      return false;
    }
    peer.node = f.srcNode;
    if (peer.joiner) peer.joiner.node = f.srcNode;
    peer.theirNonce = f.body.slice();
    const incarnation = this.#k.exports.incarnation;
    const mac = await authMac(this.#key, {
      opener: peer.initiator,
      toNonce: peer.theirNonce,
      fromNonce: peer.myNonce,
      from: this.#k.nodeId,
      to: f.srcNode,
      incarnation,
    });
    this.#write(peer, control(this.#k.nodeId, Control.AUTH, authBody(mac, incarnation)));
    return true;
  }

  async #checkAuth(peer: Peer, f: ControlFrame): Promise<boolean> {
    const claimed = f.body.length === AUTH_BYTES ? authIncarnation(f.body) : 0;
    const want = await authMac(this.#key, {
      opener: !peer.initiator,
      toNonce: peer.myNonce,
      fromNonce: peer.theirNonce!,
      from: peer.node,
      to: this.#k.nodeId,
      incarnation: claimed,
    });
    if (f.body.length !== AUTH_BYTES || !sameBytes(f.body.subarray(0, MAC_BYTES), want)) {
      this.#drop(peer, `node ${peer.node} failed authentication (wrong cluster secret?)`);
      this.#stopJoining(peer);
      return false;
    }
    peer.authenticated = true;
    peer.incarnation = claimed;
    this.#admit(peer).catch((e) => this.#k.tracer.bug("TcpTransport admission", e));
    return true;
  }

  // -- Admission: one node id, one node ---------------------------------------

  /** Decides whether to take an authenticated link (the rules at the top). */
  async #admit(peer: Peer): Promise<void> {
    const n = peer.node;
    for (;;) {
      if (!this.#all.has(peer)) return;
      const other = this.#peers.get(n);
      if (!other) return this.#accept(peer);
      if (other.incarnation === peer.incarnation) {
        const opener = (p: Peer) => p.initiator ? this.#k.nodeId : p.node;
        const keep = Math.min(this.#k.nodeId, n);
        if (opener(other) === keep && opener(peer) !== keep) return void this.#drop(peer, "");
        this.#drop(other, "");
        continue;
      }
      const alive = await this.#probe(other);
      if (!this.#all.has(peer)) return;
      if (this.#peers.get(n) !== other) continue; // it changed meanwhile: decide again
      if (alive) {
        return this.#refuse(
          peer,
          `node ${n} is already connected (incarnation ${hex(other.incarnation)}) and its ` +
            `link answers; this connection claims incarnation ${hex(peer.incarnation)}`,
        );
      }
      this.#drop(
        other,
        `node ${n} came back as incarnation ${hex(peer.incarnation)}; its old link ` +
          `(incarnation ${hex(other.incarnation)}) did not answer in ${PROBE_MS} ms`,
      );
    }
  }

  #accept(peer: Peer): void {
    peer.admitted = true;
    this.#peers.set(peer.node, peer);
    this.#write(peer, control(this.#k.nodeId, Control.ADMIT));
    this.#maybeUp(peer);
  }

  #maybeUp(peer: Peer): void {
    if (!peer.admitted || !peer.theirAdmit || peer.up) return;
    peer.up = true;
    clearTimeout(peer.timer);
    for (const j of this.#joiners) {
      if (j.node !== peer.node) continue;
      j.delayMs = REJOIN_MIN_MS;
      j.settle(true);
    }
    // The kernel learns of a restart before any frame of the new incarnation's.
    this.#k.watch(peer.node, peer.incarnation);
    this.onPeer(peer.node);
  }

  /** Sends REFUSE and half-closes; the peer hangs up (or the handshake timer ends it). */
  #refuse(peer: Peer, reason: string): void {
    this.#k.tracer.warn(`refused a TCP peer (node ${peer.node}): ${reason}`);
    peer.refusing = true;
    this.#write(peer, refusal(this.#k.nodeId, reason));
    this.#stopJoining(peer);
  }

  /** PINGs an admitted link; resolves true on its PONG, false on silence or close. */
  #probe(p: Peer): Promise<boolean> {
    if (p.probe) return p.probe.done;
    const token = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
    let settle!: (alive: boolean) => void;
    const done = new Promise<boolean>((r) => settle = r);
    const timer = setTimeout(() => probe.finish(false), PROBE_MS);
    const probe: Probe = {
      token,
      done,
      finish: (alive) => {
        clearTimeout(timer);
        if (p.probe === probe) p.probe = null;
        settle(alive);
      },
    };
    p.probe = probe;
    this.#write(p, control(this.#k.nodeId, Control.PING, token));
    return done;
  }

  #write(peer: Peer, bytes: Uint8Array): void {
    if (!this.#all.has(peer)) return;
    if (peer.queued + bytes.length > MAX_QUEUED_BYTES) {
      return void this.#drop(peer, "it stopped reading (output queue full)");
    }
    peer.queue.push(bytes);
    peer.queued += bytes.length;
    if (peer.writing) return;
    peer.writing = true;
    (async () => {
      try {
        while (peer.queue.length) {
          const b = peer.queue.shift()!;
          peer.queued -= b.length;
          let off = 0;
          while (off < b.length) off += await peer.conn.write(b.subarray(off));
        }
        if (peer.refusing) await peer.conn.closeWrite().catch(() => {});
      } catch (e) {
        this.#drop(peer, `write failed: ${e}`);
      } finally {
        peer.writing = false;
      }
    })();
  }

  /** Closes a connection, logging `reason` if there is one; returns false. */
  #drop(peer: Peer, reason: string): false {
    if (!this.#all.delete(peer)) return false;
    clearTimeout(peer.timer);
    if (reason && !this.#closed) {
      this.#k.tracer.warn(
        `dropped a TCP peer${peer.node >= 0 ? ` (node ${peer.node})` : ""}: ${reason}`,
      );
    }
    if (this.#peers.get(peer.node) === peer) this.#peers.delete(peer.node);
    peer.probe?.finish(false);
    try {
      peer.conn.close();
    } catch {
      // already closed
    }
    this.#rejoinAfter(peer);
    return false;
  }
}
