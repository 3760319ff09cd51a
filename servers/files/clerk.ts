/**
 * The file clerk (issue 14, 000 §5): one per node, serving that node's processes
 * the file service's own protocol (protocol.ts) under `rpc.files.clerk.N`. Reads
 * (LOOKUP, GETATTR, READ, READDIR) are answered from the file server's cache areas by DX,
 * remote READs with no control transfer to the server (dx_reader.ts); a miss, and
 * every change, goes to the server over HY, which also fills its areas for the next
 * reader. The clerk trusts the server; its clients it does not: their requests are
 * parsed as the server parses them, and a bad one gets the server's answer.
 *
 *   servers/files/clerk.ts [hy] [NODE] [as=SERVICE]
 *       hy: HY only, for the paper's comparison; NODE: the file server's (default
 *       the node's fileServerNode); SERVICE: the service name (default
 *       files.clerk.N, the one the file API looks for)
 *
 * What a reader sees: the server rewrites its areas before it answers the call that
 * changed them, so a read through any clerk that starts after a change's call has
 * returned sees the change (a write, a rename, an unlink) or misses and asks the
 * server; it never sees the state before. The clerk's own copies of blocks and
 * directory pages keep that: each is used only while the attributes it reads by DX
 * for the call (one READ of 64 bytes) carry the version it was read under.
 */

import {
  args,
  closeDescriptor,
  Errno,
  info,
  nodeId,
  println,
  type Procedure,
  RpcClient,
  RpcServer,
  Sig,
  signalAddress,
  SignalHandler,
  SysError,
  waitForName,
} from "../../userland/lib/mod.ts";
import { BlockCache, DxReader } from "./dx_reader.ts";
import {
  clerkService,
  encodeAttr,
  errorReply,
  type FileAttr,
  FILES_SERVICE,
  FileStub,
  isFileMode,
  Reader,
} from "./protocol.ts";

/** What the clerk did with the reads it was asked. */
export interface ClerkCounts {
  dx: number;
  hy: number;
}

/** Blocks a clerk keeps (8 MiB), and directory pages. */
const CLERK_BLOCKS = 2048;
const CLERK_PAGES = 256;

export default function main(): number {
  const words = args();
  const hyOnly = words.includes("hy");
  const nodeArg = words.find((w) => /^\d+$/.test(w));
  const service = words.find((w) => w.startsWith("as="))?.slice(3) ?? clerkService(nodeId());
  const serverNode = nodeArg !== undefined ? Number(nodeArg) : info("stats").fileServerNode;
  if (!(serverNode >= 0)) {
    println(`files clerk: node ${nodeId()} knows no file server node`);
    return 0;
  }
  const clerk = new Clerk(serverNode, hyOnly);
  let server: RpcServer;
  try {
    server = new RpcServer(service, clerk.procedures());
  } catch (e) {
    if (e instanceof SysError && e.code === "EEXIST") {
      println(`files clerk: one already runs on node ${nodeId()}`);
      return 1;
    }
    throw e;
  }
  let running = true;
  SignalHandler(signalAddress(Sig.SIGTERM), 4, () => running = false);
  server.serve(() => !running);
  println(
    `files clerk: ${clerk.counts.dx} answered by DX, ${clerk.counts.hy} by HY, ` +
      `${clerk.blocks.hits} blocks from its own cache`,
  );
  return 0;
}

export class Clerk {
  readonly serverNode: number;
  readonly hyOnly: boolean;
  readonly counts: ClerkCounts = { dx: 0, hy: 0 };
  #hy: RpcClient | null = null;
  #dx: DxReader | null = null;
  /** Its own copies, each valid while the file's (directory's) version is unchanged. */
  readonly blocks = new BlockCache(CLERK_BLOCKS);
  readonly #pages = new Map<string, { version: number; page: Uint8Array }>();

  constructor(serverNode: number, hyOnly: boolean) {
    this.serverNode = serverNode;
    this.hyOnly = hyOnly;
  }

  /** The connection to the file server (made on first use, again after a failure). */
  #server(): RpcClient {
    if (!this.#hy) {
      // The server may be starting, or restarting (init starts it with the clerks).
      const { desc } = waitForName(`rpc.${FILES_SERVICE}`, 5_000, { hint: this.serverNode });
      closeDescriptor(desc);
      this.#hy = RpcClient.connect(FILES_SERVICE, { hint: this.serverNode, timeoutMs: 8_000 });
    }
    return this.#hy;
  }

  /**
   * The DX reader, or null (HY only, or the areas are not there: asked again in a
   * second). The first time it waits up to 2 s for them, as the server may be
   * starting with the clerk (init starts both at once); later, a server that is
   * gone or restarting costs a call no wait.
   */
  #reader(): DxReader | null {
    if (this.hyOnly) return null;
    if (!this.#dx && performance.now() >= this.#dxRetryAt) {
      const waitMs = this.#dxTried ? 0 : 2_000;
      this.#dxTried = true;
      try {
        this.#dx = new DxReader(this.serverNode, waitMs);
        // A new reader means a new server, whose versions count from 1 again: the
        // copies kept under the old one's are not to be trusted.
        this.blocks.clear();
        this.#pages.clear();
      } catch (e) {
        if (!(e instanceof SysError)) throw e;
        this.#dxRetryAt = performance.now() + 1_000;
      }
    }
    return this.#dx;
  }
  #dxRetryAt = 0;
  #dxTried = false;

  /** The call forwarded to the server: its reply as it came (the server's status byte). */
  #forward(stub: number, request: Uint8Array): Uint8Array {
    this.counts.hy++;
    try {
      return this.#server().call(stub, request);
    } catch (e) {
      this.#hy?.close();
      this.#hy = null;
      if (!(e instanceof SysError)) throw e;
      return errorReply(Errno.EIO, `the file server on node ${this.serverNode}: ${e.message}`);
    }
  }

  /**
   * Directory `dir`'s page from entry `first`: the clerk's copy if the directory's
   * version (read now, by DX) is the one it was read under, else the server's area's.
   */
  #page(dx: DxReader, dir: number, first: number): Uint8Array | null {
    const attr = dx.getattr(dir);
    if (!attr) return null;
    const key = `${dir}/${first}`, kept = this.#pages.get(key);
    this.#pages.delete(key); // used now: last to go
    if (kept && kept.version === attr.version) {
      this.#pages.set(key, kept);
      return kept.page;
    }
    const page = dx.readdir(dir, first);
    if (!page) return null;
    this.#pages.set(key, { version: attr.version, page });
    if (this.#pages.size > CLERK_PAGES) this.#pages.delete(this.#pages.keys().next().value!);
    return page;
  }

  /** A reply answered by DX: status 0, then `payload`. */
  #okReply(payload: Uint8Array): Uint8Array {
    this.counts.dx++;
    const out = new Uint8Array(1 + payload.length);
    out.set(payload, 1);
    return out;
  }

  /** A reply of status 0 and an attribute record. */
  #attrReply(a: FileAttr): Uint8Array {
    this.counts.dx++;
    const out = new Uint8Array(41);
    encodeAttr(a, out, 1);
    return out;
  }

  /** A DX answer, or the server's: a remote READ that fails counts as a miss. */
  #tryDx(answer: (dx: DxReader) => Uint8Array | null): Uint8Array | null {
    const dx = this.#reader();
    if (!dx) return null;
    try {
      return answer(dx);
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      this.#dx?.close(); // its descriptors may have gone stale (a new server)
      this.#dx = null;
      return null;
    }
  }

  procedures(): Map<number, Procedure> {
    const procs = new Map<number, Procedure>();
    for (const stub of Object.values(FileStub)) {
      procs.set(stub, (a) => this.#forward(stub, a));
    }
    // The server would take the clerk's own buffer for the caller's: refused.
    for (const stub of [FileStub.READ_BULK, FileStub.WRITE_BULK]) {
      procs.set(stub, () => errorReply(Errno.EINVAL, "bulk calls go to the file server itself"));
    }
    // A read answered by DX where `answer` can (null: a miss), else by the server.
    const viaDx = (stub: number, answer: (dx: DxReader, r: Reader) => Uint8Array | null) =>
      // `a` stays valid through the forwarded call: no other request is taken
      // while this procedure runs (handlers never nest).
      procs.set(
        stub,
        (a) => this.#tryDx((dx) => answer(dx, new Reader(a))) ?? this.#forward(stub, a),
      );
    viaDx(FileStub.GETATTR, (dx, r) => {
      const got = dx.getattr(r.u32());
      return got && this.#attrReply(got);
    });
    viaDx(FileStub.LOOKUP, (dx, r) => {
      const dir = r.u32();
      const got = dx.lookup(dir, r.text());
      return got && this.#attrReply(got);
    });
    viaDx(FileStub.READ, (dx, r) => {
      const ino = r.u32(), offset = r.f64(), length = r.u32();
      const attr = dx.getattr(ino);
      if (!attr || !isFileMode(attr.mode)) return null; // EISDIR is the server's
      const data = dx.read(attr, offset, length, this.blocks);
      return data && this.#okReply(data);
    });
    viaDx(FileStub.READDIR, (dx, r) => {
      const dir = r.u32(), first = r.u32();
      const page = this.#page(dx, dir, first);
      return page && this.#okReply(page);
    });
    return procs;
  }
}
