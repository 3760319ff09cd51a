/**
 * Bulk HY: the bytes of a large READ or WRITE (BULK_MIN and more) move by remote
 * memory, as 000 §5.1's Hybrid-1 moves data, instead of in the RPC's messages
 * (which carry a call's bytes in pieces of about 4 KiB, one round trip each). The
 * client exports a buffer of MAX_TRANSFER bytes to the file server alone
 * (userland/lib/fs/bulk.ts) and names it in the call; the server writes what it
 * read into it with block WRITEs (READ_BULK), or takes what to write out of it
 * with READs (WRITE_BULK), 64 KiB each, every one issued before the first is
 * awaited; the call itself carries only the request and a short reply.
 */

import {
  awaitRemote,
  bind,
  closeDescriptor,
  CreateSegment,
  Errno,
  importSegment,
  nodeId,
  pin,
  READ,
  release,
  type RemoteCounters,
  remoteCounters,
  SysError,
  view,
  writeBlock,
} from "../../userland/lib/mod.ts";
import { MAX_TRANSFER } from "./protocol.ts";

/** The most one remote request moves (kernel/remote: MAX_PAYLOAD). */
const CHUNK = 64 * 1024;
/** Client buffers the server keeps imported (each client has one). */
const KEPT = 32;

export class BulkMover {
  #seg = 0;
  #base = 0;
  #bytes: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  /** Descriptors of the clients' buffers, by node and name; least recently used first. */
  readonly #imports = new Map<string, number>();

  constructor() {
    this.#land();
  }

  /** A fresh landing segment (again after a transfer timed out: late answers go to the old). */
  #land(): void {
    if (this.#seg !== 0) release(this.#seg);
    this.#seg = CreateSegment(MAX_TRANSFER);
    this.#base = bind(this.#seg);
    pin(this.#base, MAX_TRANSFER);
    this.#bytes = view(this.#base, MAX_TRANSFER, true);
  }

  /** Puts `data` at the start of the buffer `name` exports on `node`. */
  push(node: number, name: string, data: Uint8Array): void {
    if (data.length > MAX_TRANSFER) throw new RangeError(`a bulk read of ${data.length} bytes`);
    this.#bytes.set(data);
    this.#with(node, name, (desc) => {
      const before = remoteCounters();
      let k = 0;
      for (let at = 0; at < data.length; at += CHUNK, k++) {
        writeBlock(desc, at, this.#base + at, Math.min(CHUNK, data.length - at));
      }
      awaitAll(before, k);
    });
  }

  /** The first `length` bytes of the buffer `name` exports on `node`. */
  pull(node: number, name: string, length: number): Uint8Array {
    if (length > MAX_TRANSFER) throw new RangeError(`a bulk write of ${length} bytes`);
    this.#with(node, name, (desc) => {
      const before = remoteCounters();
      let k = 0;
      for (let at = 0; at < length; at += CHUNK, k++) {
        READ(desc, at, Math.min(CHUNK, length - at), this.#seg, at);
      }
      awaitAll(before, k);
    });
    return this.#bytes.slice(0, length);
  }

  /**
   * Runs `move` on the buffer's descriptor; if that fails as a stale import would
   * (ESTALE: the client's buffer was made again; EPERM: another process's under
   * the name), once more on a fresh one. What still fails is the client's: EIO to
   * the call.
   */
  #with(node: number, name: string, move: (desc: number) => void): void {
    for (let attempt = 0;; attempt++) {
      const desc = this.#desc(node, name);
      try {
        move(desc);
        return;
      } catch (e) {
        if (!(e instanceof SysError)) throw e;
        this.#forget(node, name);
        if (e.code === "ETIMEDOUT") this.#land();
        else if (attempt === 0 && (e.code === "ESTALE" || e.code === "EPERM")) continue;
        throw new SysError(Errno.EIO, "bulk", `the buffer "${name}" on node ${node}: ${e.message}`);
      }
    }
  }

  #desc(node: number, name: string): number {
    const key = `${node}/${name}`;
    let desc = this.#imports.get(key);
    if (desc === undefined) {
      try {
        // On the client's node itself: a lookup finds its own node's names first, and
        // a program on this node could have exported one under the client's name.
        desc = importSegment(name, { hint: node, forceRemote: node !== nodeId() }).desc;
      } catch (e) {
        if (!(e instanceof SysError)) throw e;
        throw new SysError(Errno.EIO, "bulk", `no buffer "${name}" on node ${node}: ${e.code}`);
      }
      if (this.#imports.size >= KEPT) {
        const [oldest, d] = this.#imports.entries().next().value!;
        this.#imports.delete(oldest);
        closeDescriptor(d);
      }
    } else this.#imports.delete(key); // most recently used: last
    this.#imports.set(key, desc);
    return desc;
  }

  #forget(node: number, name: string): void {
    const key = `${node}/${name}`, desc = this.#imports.get(key);
    if (desc === undefined) return;
    this.#imports.delete(key);
    try {
      closeDescriptor(desc);
    } catch {
      // already gone with its export
    }
  }
}

/**
 * Waits until each of the `k` requests issued after `before` has completed, well or
 * not (so that none is still in flight when the caller goes on), then throws the
 * first failure's error if there was one; ETIMEDOUT if they do not all come.
 */
function awaitAll(before: RemoteCounters, k: number): void {
  let failed: SysError | null = null;
  for (;;) {
    const now = remoteCounters();
    if (((now.done - before.done) | 0) + ((now.errors - before.errors) | 0) >= k) break;
    try {
      awaitRemote(now);
    } catch (e) {
      if (!(e instanceof SysError) || e.code === "ETIMEDOUT") throw e;
      failed ??= e;
    }
  }
  if (failed) throw failed;
}
