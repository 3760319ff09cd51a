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
 * Joiners reconnect with backoff (tcp_joiners.ts).
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
} from "./tcp_handshake.ts";
import { type Joiner, Joiners } from "./tcp_joiners.ts";
import { PROBE_MS, TcpLink } from "./tcp_link.ts";
import type { Kernel } from "../kernel.ts";

const HANDSHAKE_MS = 5_000;
/** The largest frame accepted before admission (handshake frames are small). */
const HANDSHAKE_FRAME_BYTES = 256;

export interface TcpOptions {
  listen?: { hostname: string; port: number };
  join?: { hostname: string; port: number }[];
  secret: string;
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

export class TcpTransport {
  readonly #k: Kernel;
  readonly #key: Promise<CryptoKey>;
  /** Each node's admitted connection. */
  readonly #peers = new Map<number, TcpLink>();
  readonly #all = new Set<TcpLink>();
  readonly #joiners: Joiners;
  #listener: Deno.Listener | null = null;
  #closed = false;
  #receive: (bytes: Uint8Array, from: number) => void;
  /** Called when a link comes up (tests and the CLI wait on it). */
  onPeer: (node: number) => void = () => {};

  constructor(kernel: Kernel, secret: string) {
    this.#key = importSecret(secret);
    this.#k = kernel;
    this.#joiners = new Joiners({
      start: (conn, j) => this.#start(conn, j),
      connected: (node) => this.#connected(node),
      warn: (line) => kernel.tracer.warn(line),
    });
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
    return this.#joiners.add(hostname, port);
  }

  /** Sends frame bytes to a node (itself: a loopback). */
  send(to: number, bytes: Uint8Array): void {
    if (to === this.#k.nodeId) return this.#receive(bytes, to);
    const peer = this.#peers.get(to);
    if (!peer?.up) return; // like a lost frame
    peer.write(bytes);
  }

  /** Nodes whose links are up. */
  get peers(): number[] {
    return [...this.#peers.values()].filter((p) => p.up).map((p) => p.node);
  }

  close(): void {
    this.#closed = true;
    this.#listener?.close();
    this.#joiners.close();
    for (const p of this.#all) this.#drop(p, "");
  }

  /** True while some connection with `node` is open. */
  #connected(node: number): boolean {
    for (const p of this.#all) if (p.node === node) return true;
    return false;
  }

  // -- Connections ------------------------------------------------------------

  #start(conn: Deno.Conn, joiner: Joiner | null): void {
    const peer = new TcpLink(conn, joiner, this.#k.nodeId, (p, why) => this.#drop(p, why));
    peer.timer = setTimeout(() => {
      if (!peer.up) this.#drop(peer, peer.refusing ? "" : "handshake timed out");
    }, HANDSHAKE_MS);
    this.#all.add(peer);
    peer.write(control(this.#k.nodeId, Control.HELLO, peer.myNonce));
    // A reset is a peer that hung up with frames still unread (its process ended
    // between two heartbeats): dropped quietly, as at end of stream; the failure
    // detector says what became of the node.
    this.#read(peer).catch((e) =>
      this.#drop(peer, e instanceof Deno.errors.ConnectionReset ? "" : `connection error: ${e}`)
    );
  }

  async #read(peer: TcpLink): Promise<void> {
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
  async #control(peer: TcpLink, bytes: Uint8Array): Promise<boolean> {
    const bad = checkFrame(bytes);
    const f = bad ?? (frameType(bytes) === FrameType.CONTROL ? decodeControl(bytes) : null);
    if (peer.up) {
      // A broken or unknown control frame is the kernel's to count or ignore.
      if (f === null || typeof f === "string" || !peer.liveness(f.kind, f.body)) {
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
        if (peer.joiner) this.#joiners.stop(peer.joiner);
        return false;
      }
      default:
        if (peer.authenticated && peer.liveness(f.kind, f.body)) return true;
    }
    return this.#drop(peer, "unexpected handshake frame");
  }

  async #hello(peer: TcpLink, f: ControlFrame): Promise<boolean> {
    if (peer.theirNonce) return this.#drop(peer, "a second HELLO on one connection");
    if (f.body.length !== NONCE_BYTES) return this.#drop(peer, "a malformed HELLO");
    if (f.srcNode === this.#k.nodeId) {
      this.#drop(peer, `peer claims our own node id ${f.srcNode}`);
      if (peer.joiner) this.#joiners.stop(peer.joiner);
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
    peer.write(control(this.#k.nodeId, Control.AUTH, authBody(mac, incarnation)));
    return true;
  }

  async #checkAuth(peer: TcpLink, f: ControlFrame): Promise<boolean> {
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
      if (peer.joiner) this.#joiners.stop(peer.joiner);
      return false;
    }
    peer.authenticated = true;
    peer.incarnation = claimed;
    this.#admit(peer).catch((e) => this.#k.tracer.bug("TcpTransport admission", e));
    return true;
  }

  // -- Admission: one node id, one node ---------------------------------------

  /** Decides whether to take an authenticated link (the rules at the top). */
  async #admit(peer: TcpLink): Promise<void> {
    const n = peer.node;
    for (;;) {
      if (!this.#all.has(peer)) return;
      const other = this.#peers.get(n);
      if (!other) return this.#accept(peer);
      if (other.incarnation === peer.incarnation) {
        const opener = (p: TcpLink) => p.initiator ? this.#k.nodeId : p.node;
        const keep = Math.min(this.#k.nodeId, n);
        if (opener(other) === keep && opener(peer) !== keep) return void this.#drop(peer, "");
        this.#drop(other, "");
        continue;
      }
      const alive = await other.probe();
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

  #accept(peer: TcpLink): void {
    peer.admitted = true;
    this.#peers.set(peer.node, peer);
    peer.write(control(this.#k.nodeId, Control.ADMIT));
    this.#maybeUp(peer);
  }

  #maybeUp(peer: TcpLink): void {
    if (!peer.admitted || !peer.theirAdmit || peer.up) return;
    peer.up = true;
    clearTimeout(peer.timer);
    this.#joiners.up(peer.node);
    // The kernel learns of a restart before any frame of the new incarnation's.
    this.#k.watch(peer.node, peer.incarnation);
    this.onPeer(peer.node);
  }

  /** Sends REFUSE and half-closes; the peer hangs up (or the handshake timer ends it). */
  #refuse(peer: TcpLink, reason: string): void {
    this.#k.tracer.warn(`refused a TCP peer (node ${peer.node}): ${reason}`);
    peer.refusing = true;
    peer.write(refusal(this.#k.nodeId, reason));
    if (peer.joiner) this.#joiners.stop(peer.joiner);
  }

  /** Closes a connection, logging `reason` if there is one; returns false. */
  #drop(peer: TcpLink, reason: string): false {
    if (!this.#all.delete(peer)) return false;
    if (reason && !this.#closed) {
      this.#k.tracer.warn(
        `dropped a TCP peer${peer.node >= 0 ? ` (node ${peer.node})` : ""}: ${reason}`,
      );
    }
    if (this.#peers.get(peer.node) === peer) this.#peers.delete(peer.node);
    peer.close();
    this.#joiners.closed(peer.joiner, peer.node, peer.up);
    return false;
  }
}
