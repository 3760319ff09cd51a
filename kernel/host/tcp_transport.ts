/**
 * Nodes in separate Deno processes or hosts, joined over TCP with the same wire
 * format as the emulated network. Host layer: it uses Deno's sockets and WebCrypto.
 *
 * Authentication (a shared cluster secret; HMAC over a challenge): on connecting,
 * each side sends one HELLO control frame carrying a fresh 16-byte nonce; each
 * answers the other's HELLO with AUTH = HMAC-SHA256(secret, "rm-auth" ‖ my role ‖
 * their nonce ‖ my nonce ‖ my id ‖ their id), the role saying whether I opened the
 * connection. Binding both nonces and the role means an AUTH computed for one
 * connection proves nothing on another, so a node cannot be used as an oracle to
 * relay. Only when the peer's AUTH checks out does the connection carry memory
 * traffic. A peer that sends anything else first, a second HELLO, a frame longer than
 * a handshake frame, fails the check, breaks the framing, or takes longer than
 * HANDSHAKE_MS is dropped with a logged reason; the node keeps serving everyone else.
 * Two authenticated connections between the same nodes (both joined at once) are
 * resolved the same way on both sides: the one opened by the lower node id stays.
 * A frame with a bad checksum from an authenticated peer is dropped alone (the kernel
 * counts it). Frames after the handshake are not individually authenticated: the
 * cluster trusts its LAN (000 §3.5).
 */

import { checkFrame, FrameReader, FrameType, frameType } from "../net/wire.ts";
import { buildControl, type ControlFrame, decodeControl } from "../net/control_frames.ts";
import type { Kernel } from "../kernel.ts";

const Control = { HELLO: 1, AUTH: 2 } as const;
const NONCE_BYTES = 16;
const MAC_BYTES = 32;
const HANDSHAKE_MS = 5_000;
/** The largest frame accepted before authentication (HELLO and AUTH are small). */
const HANDSHAKE_FRAME_BYTES = 256;
/** A peer that lets this much output pile up is too slow to keep. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

export interface TcpOptions {
  listen?: { hostname: string; port: number };
  join?: { hostname: string; port: number }[];
  secret: string;
}

interface Peer {
  conn: Deno.Conn;
  node: number;
  /** True if this node opened the connection (joined). */
  initiator: boolean;
  authenticated: boolean;
  myNonce: Uint8Array;
  theirNonce: Uint8Array | null;
  queue: Uint8Array[];
  queued: number;
  writing: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const encoder = new TextEncoder();

/** A control frame from `from`; its destination is not known before the handshake. */
const control = (from: number, kind: number, body: Uint8Array) => buildControl(from, 0, kind, body);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export class TcpTransport {
  readonly #k: Kernel;
  readonly #key: Promise<CryptoKey>;
  readonly #peers = new Map<number, Peer>();
  readonly #all = new Set<Peer>();
  #listener: Deno.Listener | null = null;
  #closed = false;
  #receive: (bytes: Uint8Array, from: number) => void;
  /** Called when a peer authenticates (tests and the CLI wait on it). */
  onPeer: (node: number) => void = () => {};

  constructor(kernel: Kernel, secret: string) {
    if (secret.length < 8) {
      throw new RangeError("the cluster secret must have at least 8 characters");
    }
    this.#k = kernel;
    this.#key = crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    // Replies come from sockets, on the event loop: the kernel must not out-spin them.
    kernel.trapService.arrivesOnEventLoop();
    this.#receive = kernel.nic.attach({
      send: (to, bytes) => this.send(to, bytes),
      reachable: (node) => node === kernel.nodeId || this.#peers.get(node)?.authenticated === true,
      backlog: (node) => this.#peers.get(node)?.queued ?? 0,
    });
  }

  /** Listens for peers; returns the address actually bound (port 0 picks one). */
  listen(hostname: string, port: number): Deno.NetAddr {
    this.#listener = Deno.listen({ hostname, port, transport: "tcp" });
    (async () => {
      for await (const conn of this.#listener!) this.#start(conn, false);
    })().catch(() => {});
    return this.#listener.addr as Deno.NetAddr;
  }

  /** Connects to a peer. */
  async join(hostname: string, port: number): Promise<void> {
    const conn = await Deno.connect({ hostname, port, transport: "tcp" });
    this.#start(conn, true);
  }

  /** Sends frame bytes to a node (itself: a loopback). */
  send(to: number, bytes: Uint8Array): void {
    if (to === this.#k.nodeId) return this.#receive(bytes, to);
    const peer = this.#peers.get(to);
    if (!peer || !peer.authenticated) return; // like a lost frame
    this.#write(peer, bytes);
  }

  /** Resolves once `n` peers have authenticated, or after `ms` (returns how many did). */
  async waitForPeers(n: number, ms: number): Promise<number> {
    const deadline = Date.now() + ms;
    while (this.peers.length < n && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.peers.length;
  }

  /** Nodes connected and authenticated. */
  get peers(): number[] {
    return [...this.#peers.values()].filter((p) => p.authenticated).map((p) => p.node);
  }

  close(): void {
    this.#closed = true;
    this.#listener?.close();
    for (const p of this.#all) this.#drop(p, "");
  }

  #start(conn: Deno.Conn, initiator: boolean): void {
    const peer: Peer = {
      conn,
      node: -1,
      initiator,
      authenticated: false,
      myNonce: crypto.getRandomValues(new Uint8Array(NONCE_BYTES)),
      theirNonce: null,
      queue: [],
      queued: 0,
      writing: false,
      timer: undefined,
    };
    peer.timer = setTimeout(() => {
      if (!peer.authenticated) this.#drop(peer, "handshake timed out");
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
      const limit = () => peer.authenticated ? undefined : HANDSHAKE_FRAME_BYTES;
      for (let bytes = reader.next(limit()); bytes !== null; bytes = reader.next(limit())) {
        if (bytes === "bad-length") return this.#drop(peer, "broken framing");
        if (!peer.authenticated) {
          if (!(await this.#handshake(peer, bytes))) return;
        } else {
          this.#receive(bytes, peer.node);
        }
      }
    }
    this.#drop(peer, "");
  }

  /** Handles one frame before authentication; false if the peer was dropped. */
  async #handshake(peer: Peer, bytes: Uint8Array): Promise<boolean> {
    const bad = checkFrame(bytes);
    const f = bad ?? (frameType(bytes) === FrameType.CONTROL ? decodeControl(bytes) : null);
    if (f === null || typeof f === "string") {
      this.#drop(peer, `unauthenticated peer sent ${typeof f === "string" ? f : "data"}`);
      return false;
    }
    if (f.kind === Control.HELLO && f.body.length === NONCE_BYTES) {
      if (peer.theirNonce) {
        this.#drop(peer, "a second HELLO on one connection");
        return false;
      }
      if (f.srcNode === this.#k.nodeId) {
        this.#drop(peer, `peer claims our own node id ${f.srcNode}`);
        return false;
      }
      peer.node = f.srcNode;
      peer.theirNonce = f.body.slice();
      const mac = await this.#mac(
        peer.initiator,
        peer.theirNonce,
        peer.myNonce,
        this.#k.nodeId,
        f.srcNode,
      );
      this.#write(peer, control(this.#k.nodeId, Control.AUTH, mac));
      return true;
    }
    if (f.kind === Control.AUTH && peer.node >= 0 && f.srcNode === peer.node) {
      return await this.#checkAuth(peer, f);
    }
    this.#drop(peer, "unexpected handshake frame");
    return false;
  }

  async #checkAuth(peer: Peer, f: ControlFrame): Promise<boolean> {
    const want = await this.#mac(
      !peer.initiator,
      peer.myNonce,
      peer.theirNonce!,
      peer.node,
      this.#k.nodeId,
    );
    if (f.body.length !== MAC_BYTES || !sameBytes(f.body, want)) {
      this.#drop(peer, `node ${peer.node} failed authentication (wrong cluster secret?)`);
      return false;
    }
    const other = this.#peers.get(peer.node);
    if (other && other !== peer && other.authenticated) {
      // Both nodes joined each other: keep the connection the lower id opened, on both sides.
      const opener = (p: Peer) => p.initiator ? this.#k.nodeId : p.node;
      const keep = Math.min(this.#k.nodeId, peer.node);
      if (opener(other) === keep && opener(peer) !== keep) {
        this.#drop(peer, "");
        return false;
      }
      this.#drop(other, "");
    }
    clearTimeout(peer.timer);
    peer.authenticated = true;
    this.#peers.set(peer.node, peer);
    this.#k.watch(peer.node);
    this.onPeer(peer.node);
    return true;
  }

  /** The AUTH that node `from` (who opened the connection if `opener`) owes `to`. */
  async #mac(
    opener: boolean,
    toNonce: Uint8Array,
    fromNonce: Uint8Array,
    from: number,
    to: number,
  ): Promise<Uint8Array> {
    const msg = new Uint8Array(8 + 2 * NONCE_BYTES + 4);
    msg.set(encoder.encode("rm-auth"));
    msg[7] = opener ? 1 : 0;
    msg.set(toNonce, 8);
    msg.set(fromNonce, 8 + NONCE_BYTES);
    const v = new DataView(msg.buffer);
    v.setUint16(8 + 2 * NONCE_BYTES, from, true);
    v.setUint16(10 + 2 * NONCE_BYTES, to, true);
    return new Uint8Array(await crypto.subtle.sign("HMAC", await this.#key, msg));
  }

  #write(peer: Peer, bytes: Uint8Array): void {
    if (peer.queued + bytes.length > MAX_QUEUED_BYTES) {
      return this.#drop(peer, "it stopped reading (output queue full)");
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
      } catch (e) {
        this.#drop(peer, `write failed: ${e}`);
      } finally {
        peer.writing = false;
      }
    })();
  }

  #drop(peer: Peer, reason: string): void {
    if (!this.#all.delete(peer)) return;
    clearTimeout(peer.timer);
    if (reason && !this.#closed) {
      this.#k.tracer.warn(
        `dropped a TCP peer${peer.node >= 0 ? ` (node ${peer.node})` : ""}: ${reason}`,
      );
    }
    if (this.#peers.get(peer.node) === peer) this.#peers.delete(peer.node);
    try {
      peer.conn.close();
    } catch {
      // already closed
    }
  }
}
