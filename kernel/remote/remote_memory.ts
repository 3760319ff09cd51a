/**
 * The remote-memory co-processor of one node (000 §3.1.1), emulated in the kernel:
 * it issues the non-blocking meta-instructions READ, WRITE and CAS for local
 * processes, serves the ones arriving from other nodes, and completes them.
 *
 * Issuing: the system call checks the descriptor (exists, not stale, node up),
 * rights and bounds, sends one frame and returns its sequence number at once.
 * Serving: the owner checks the frame again from scratch (export, generation, the
 * node and pid it may come from, rights, bounds, alignment, write inhibit), so a
 * forged frame that bypassed the issuing kernel gains nothing; it performs the access
 * with atomics on aligned words and answers REPLY or NACK with a typed error (a
 * posted WRITE, which has no completion, only a NACK).
 * Completing: the issuer deposits READ data or the CAS result in the local segment,
 * raises a notification if asked, and counts the completion in the process's trap
 * page; an error completion is counted there too, sticky until `remote_status`.
 *
 * Errors are per operation: a bad request fails alone and never tears down the link
 * or the descriptor table (RDMA verbs would kill the whole queue pair).
 */

import { Errno, errnoName } from "../abi/errors.ts";
import { Access, NotifyPolicy, Rights, Trap } from "../abi/layout.ts";
import type { Segment } from "../memory/segment.ts";
import { pinPages } from "../memory/pins.ts";
import { kernelStored, loadBytes, storeBytes, supplyRangeThen } from "../memory/segment_access.ts";

/** The bytes a request deposits in local memory: a READ's count, a CAS's word. */
function depositBytes(type: number, r: { count: number }): number {
  return type === FrameType.CAS ? 4 : r.count;
}
import type { Clock } from "../host_interface.ts";
import type { NetworkInterface } from "../net/nic.ts";
import type { Tracer } from "../trace.ts";
import { FrameType } from "../net/wire.ts";
import { buildFrame, decodeBody, type Frame, FrameFlag, MAX_PAYLOAD } from "./memory_frames.ts";
import type { Process } from "../proc/process.ts";
import type { Export, ExportTable } from "./export_table.ts";
import type { TripwireTable } from "./tripwires.ts";
import { KernelError } from "../panic.ts";
import type { Descriptor } from "./descriptor_table.ts";

/** What the co-processor needs from its kernel. */
export interface RemoteHost {
  readonly nodeId: number;
  readonly exports: ExportTable;
  /** Tripwires: every access served here, and every one of ours completed, is matched. */
  readonly tripwires: TripwireTable;
  readonly procs: ReadonlyMap<number, Process>;
  readonly nic: NetworkInterface;
  readonly clock: Clock;
  readonly tracer: Tracer;
  /** 32 random bits (the first sequence number). */
  random32(): number;
  /** Signals every handler on (segment, offset): a notification. */
  signalSegment(seg: Segment, offset: number): void;
  /** A process that had MAX_OUTSTANDING requests out may issue again. */
  resume(p: Process): void;
  /** Puts a COMPLETION event (id `tag`, info `errno`) into a process's event queue. */
  completionEvent(p: Process, tag: number, errno: number): void;
  /** At the owner: takes a checked JOIN of a message segment; 0 or an errno (message_channels.ts). */
  join(f: Frame, e: Export): number;
}

/** A request this node issued and has not seen answered. */
interface Pending {
  readonly type: number;
  /** What was asked, so a reply that does not match it is refused. */
  readonly exportId: number;
  readonly offset: number;
  readonly count: number;
  readonly proc: Process | null;
  readonly descId: number;
  readonly node: number;
  readonly local: Segment | null;
  readonly localOffset: number;
  readonly notify: boolean;
  readonly issuedAt: number;
  /** Non-zero: a COMPLETION event with this id goes into the process's event queue. */
  readonly tag?: number;
  /** Kernel-internal requests (heartbeats) complete through a callback. */
  readonly done?: (errno: number, frame: Frame | null) => void;
}

export interface IssueTarget {
  node: number;
  exportId: number;
  genHi: number;
  genLo: number;
}

export interface RemoteStats {
  issued: number;
  /** Of those, READs (a protocol that must never read across the network can be checked). */
  reads: number;
  /** Of those, posted WRITEs (no completion). */
  posted: number;
  served: number;
  completed: number;
  errors: number;
  orphanReplies: number;
}

/** How long an unanswered request waits before it completes with ETIMEDOUT. */
export const REQUEST_TIMEOUT_MS = 5_000;
/** Requests one process may have outstanding; more fail with EAGAIN at issue. */
export const MAX_OUTSTANDING = 4_096;
const KNOWN_ERRNOS = new Set<number>(Object.values(Errno).filter((n) => n > 0));

export class RemoteMemory {
  readonly stats: RemoteStats = {
    issued: 0,
    reads: 0,
    posted: 0,
    served: 0,
    completed: 0,
    errors: 0,
    orphanReplies: 0,
  };
  readonly #host: RemoteHost;
  readonly #pending = new Map<number, Pending>();
  /** A coarse clock: the time of the last expiry sweep. */
  #clock: number;
  /** Random at boot, so a restarted node's replies never match an old request. */
  #seq: number;
  readonly #tracing: boolean;

  constructor(host: RemoteHost) {
    this.#host = host;
    this.#clock = host.clock.now();
    this.#seq = (host.random32() >>> 1) + 1;
    this.#tracing = host.tracer.has("remote");
    const nic = host.nic;
    nic.register(FrameType.WRITE, decodeBody, (f) => this.#serveWrite(f));
    nic.register(FrameType.READ, decodeBody, (f) => this.#serveRead(f));
    nic.register(FrameType.CAS, decodeBody, (f) => this.#serveCas(f));
    nic.register(FrameType.JOIN, decodeBody, (f) => this.#serveJoin(f));
    nic.register(FrameType.REPLY, decodeBody, (f) => this.#answer(f));
    nic.register(FrameType.NACK, decodeBody, (f) => this.#answer(f));
  }

  // -------------------------------------------------------------------------
  // Issuing

  /**
   * Sends a posted WRITE of `payload` for `proc` (002's PIO store): no completion is
   * awaited, nothing is counted when it lands, and outgoing Tripwires see it as it
   * leaves; only a refusal by the owner comes back, as an error completion.
   */
  post(proc: Process, to: Descriptor, offset: number, notify: boolean, payload: Uint8Array): void {
    this.stats.posted++;
    if (this.#tracing) this.#traceIssue("posted WRITE", proc, to.id, to, offset, payload.length);
    this.#host.tripwires.matchOutgoing(to.node, to.exportId, offset, payload.length, Access.WRITE);
    const flags = FrameFlag.POSTED | (notify ? FrameFlag.NOTIFY : 0);
    this.#request(this.#nextSeq(), FrameType.WRITE, to, proc.pid, offset, payload.length, flags, {
      payload,
    });
  }

  /** Sends `proc`'s WRITE of `payload` to descriptor `d`, with a completion; returns its sequence number. */
  write(
    proc: Process,
    d: Descriptor,
    offset: number,
    notify: boolean,
    payload: Uint8Array,
    tag = 0,
  ) {
    return this.issue(
      FrameType.WRITE,
      d,
      { offset, count: payload.length, notify },
      { proc, descId: d.id, local: null, localOffset: 0, notify: false, tag },
      payload,
    );
  }

  /** Sends a request; returns its sequence number. Checks were done by the caller. */
  issue(
    type: number,
    to: IssueTarget,
    req: { offset: number; count: number; notify: boolean; arg0?: number; arg1?: number },
    pending: Omit<Pending, "type" | "node" | "issuedAt" | "exportId" | "offset" | "count">,
    payload?: Uint8Array,
  ): number {
    const outstanding = pending.proc ? this.#perProcess(pending.proc) : 0;
    if (outstanding >= MAX_OUTSTANDING) {
      throw new KernelError("EAGAIN", `${MAX_OUTSTANDING} requests are outstanding`);
    }
    const seq = this.#nextSeq();
    if (pending.proc) this.#outstanding.set(pending.proc, outstanding + 1);
    // The deposit's pages stay resident until the reply lands (no eviction between).
    if (pending.local) pinPages(pending.local, pending.localOffset, depositBytes(type, req), 1);
    this.#pending.set(seq, {
      type,
      exportId: to.exportId,
      offset: req.offset,
      count: req.count,
      proc: pending.proc,
      descId: pending.descId,
      node: to.node,
      local: pending.local,
      localOffset: pending.localOffset,
      notify: pending.notify,
      // A coarse clock (the last expiry sweep) is enough to time out lost requests.
      issuedAt: this.#clock,
      tag: pending.tag,
      done: pending.done,
    });
    if (type === FrameType.READ) {
      this.stats.reads++;
      if (pending.proc) pending.proc.counters.remoteReads++;
    }
    if (this.#tracing && pending.proc) {
      this.#traceIssue(
        typeName(type),
        pending.proc,
        pending.descId,
        to,
        req.offset,
        req.count,
        seq,
      );
    }
    const flags = req.notify ? FrameFlag.NOTIFY : 0;
    this.#request(seq, type, to, pending.proc?.pid ?? 0, req.offset, req.count, flags, {
      arg0: req.arg0,
      arg1: req.arg1,
      payload,
    });
    return seq;
  }

  /** `--trace remote`: one line per operation a process issues, serves or completes. */
  #traceIssue(
    what: string,
    p: Process,
    descId: number,
    to: IssueTarget,
    offset: number,
    count: number,
    seq?: number,
  ): void {
    this.#host.tracer.trace(
      "remote",
      `issue ${what} pid ${p.pid} descriptor ${descId} to node ${to.node} export ${to.exportId} ` +
        `offset ${offset} size ${count}${seq === undefined ? "" : ` seq ${seq}`}`,
    );
  }

  #nextSeq(): number {
    const seq = this.#seq;
    this.#seq = (seq + 1) >>> 0 || 1;
    return seq;
  }

  /** Encodes and sends one request frame. */
  #request(
    seq: number,
    type: number,
    to: IssueTarget,
    srcPid: number,
    offset: number,
    count: number,
    flags: number,
    more: { arg0?: number; arg1?: number; payload?: Uint8Array },
  ): void {
    const bytes = buildFrame(
      type,
      this.#host.nodeId,
      to.node,
      srcPid,
      seq,
      to.exportId,
      to.genHi,
      to.genLo,
      offset,
      count,
      flags,
      more.arg0 ?? 0,
      more.arg1 ?? 0,
      more.payload,
    );
    this.stats.issued++;
    this.#host.nic.send(to.node, bytes);
  }

  #outstanding = new Map<Process, number>();

  #perProcess(p: Process): number {
    return this.#outstanding.get(p) ?? 0;
  }

  /** True while `p` may issue another request (fewer than MAX_OUTSTANDING are out). */
  canIssue(p: Process): boolean {
    return this.#perProcess(p) < MAX_OUTSTANDING;
  }

  /**
   * Completes, with an error, a request of `p`'s that was refused before it was sent
   * (a DMA queue entry that failed its checks): counted like an answer's error.
   */
  refuse(p: Process, descId: number, node: number, errno: number, tag = 0): void {
    if (tag !== 0) this.#host.completionEvent(p, tag, errno);
    this.#errorCompletion(p, descId, node, errno);
  }

  /** Fails every request outstanding to `node` (it is down) with `errno`. */
  failNode(node: number, errno: number): void {
    for (const [seq, p] of this.#pending) {
      if (p.node === node) this.#complete(seq, p, errno, null);
    }
  }

  /** Fails requests older than REQUEST_TIMEOUT_MS with ETIMEDOUT (a lost frame). */
  expire(now = this.#host.clock.now()): void {
    this.#clock = now;
    for (const [seq, p] of this.#pending) {
      if (now - p.issuedAt > REQUEST_TIMEOUT_MS) this.#complete(seq, p, Errno.ETIMEDOUT, null);
    }
  }

  get outstanding(): number {
    return this.#pending.size;
  }

  // -------------------------------------------------------------------------
  // Receiving

  /**
   * The owner's checks of a request, with its answer if one fails (a NACK); the
   * export if the request may go ahead. Only a WRITE may be posted.
   */
  #admit(f: Frame): Export | null {
    this.stats.served++;
    const e = this.#host.exports.get(f.exportId);
    let errno = check(f, e);
    if (errno === 0 && (f.flags & FrameFlag.POSTED) !== 0 && f.type !== FrameType.WRITE) {
      errno = Errno.EINVAL;
    }
    // A kernel's own requests (heartbeats, pid 0) are not traced: one per peer per period.
    if (this.#tracing && f.srcPid !== 0) {
      const size = f.type === FrameType.CAS ? 4 : f.count;
      this.#host.tracer.trace(
        "remote",
        `serve ${typeName(f.type)} from node ${f.srcNode} pid ${f.srcPid} export ${f.exportId} ` +
          `offset ${f.offset} size ${size}: ${errno === 0 ? "ok" : errnoName(errno)}`,
      );
    }
    if (errno === 0) return e!;
    this.#reply(f, FrameType.NACK, errno);
    return null;
  }

  /**
   * Supplies the range a request touches. False if it cannot be served now: an
   * external pager was asked, and the request is served `again` once it answers (the
   * reply waits, as a local fault does), or NACKed EIO if the pager fails it.
   */
  #supplied(f: Frame, seg: Segment, count: number, access: number, again: () => void): boolean {
    return supplyRangeThen(seg, f.offset, count, access, (errno) => {
      if (errno === 0) again();
      else this.#reply(f, FrameType.NACK, Errno.EIO);
    });
  }

  /** A WRITE at the owner: REPLY, or for a posted one nothing unless refused. */
  #serveWrite(f: Frame): void {
    const e = this.#admit(f), seg = e?.segment;
    if (!seg || !this.#supplied(f, seg, f.count, Access.WRITE, () => this.#serveWrite(f))) return;
    storeBytes(seg, f.offset, f.payload);
    this.#host.tripwires.matchLocal(seg.id, f.offset, f.count, Access.WRITE);
    if (notifies(seg, f)) this.#host.signalSegment(seg, f.offset);
    if ((f.flags & FrameFlag.POSTED) !== 0) return; // nothing goes back for a posted WRITE that landed
    this.#reply(f, FrameType.REPLY, 0, undefined, 0, e!.owner);
  }

  /** A READ at the owner: REPLY with the bytes. */
  #serveRead(f: Frame): void {
    const e = this.#admit(f), seg = e?.segment;
    if (!seg || !this.#supplied(f, seg, f.count, Access.READ, () => this.#serveRead(f))) return;
    this.#host.tripwires.matchLocal(seg.id, f.offset, f.count, Access.READ);
    this.#reply(f, FrameType.REPLY, 0, loadBytes(seg, f.offset, f.count), 0, e!.owner);
  }

  /** A CAS at the owner: REPLY with 1 if it swapped, 0 if not. */
  #serveCas(f: Frame): void {
    const e = this.#admit(f), seg = e?.segment;
    if (!seg || !this.#supplied(f, seg, 4, Access.WRITE, () => this.#serveCas(f))) return;
    const old = f.arg0 | 0;
    const swapped = Atomics.compareExchange(seg.words, f.offset >> 2, old, f.arg1 | 0) === old;
    if (swapped) kernelStored(seg, f.offset, 4);
    this.#host.tripwires.matchLocal(seg.id, f.offset, 4, swapped ? Access.WRITE : Access.READ);
    if (swapped && notifies(seg, f)) this.#host.signalSegment(seg, f.offset);
    this.#reply(f, FrameType.REPLY, swapped ? 1 : 0, undefined, 0, e!.owner);
  }

  /** A JOIN of a message segment: REPLY with its unit and mode. */
  #serveJoin(f: Frame): void {
    const e = this.#admit(f);
    if (!e) return;
    const joined = this.#host.join(f, e);
    if (joined !== 0) return this.#reply(f, FrameType.NACK, joined);
    this.#reply(f, FrameType.REPLY, e.segment.unit, undefined, e.segment.mode, e.owner);
  }

  /**
   * Answers `req`. A REPLY names the export's owner as its source pid (`srcPid`):
   * the issuer's kernel records it on the descriptor, and the issuer may then export
   * what it shares with that process to it alone (export's `peer`).
   */
  #reply(
    req: Frame,
    type: number,
    value: number,
    payload?: Uint8Array,
    arg0 = 0,
    srcPid = 0,
  ): void {
    // A refusal of a posted WRITE answers no request: it says whose WRITE it refuses.
    const refusal = type === FrameType.NACK && (req.flags & FrameFlag.POSTED) !== 0;
    const bytes = buildFrame(
      type,
      this.#host.nodeId,
      req.srcNode,
      srcPid,
      req.seq,
      req.exportId,
      req.genHi,
      req.genLo,
      req.offset,
      payload ? payload.length : 0,
      refusal ? FrameFlag.POSTED : 0,
      type === FrameType.NACK ? value : arg0,
      refusal ? req.srcPid : type === FrameType.REPLY ? value : 0,
      payload,
    );
    this.#host.nic.send(req.srcNode, bytes);
  }

  /** Completes a request this node issued. */
  #answer(f: Frame): void {
    if (f.type === FrameType.NACK && (f.flags & FrameFlag.POSTED) !== 0) return this.#refused(f);
    const p = this.#pending.get(f.seq);
    if (!p || p.node !== f.srcNode || p.exportId !== f.exportId || p.offset !== f.offset) {
      this.stats.orphanReplies++; // timed out, or a forged reply: ignore
      return;
    }
    if (f.type === FrameType.NACK) {
      // The code comes off the network: only a known one is passed on.
      return this.#complete(f.seq, p, KNOWN_ERRNOS.has(f.arg0) ? f.arg0 : Errno.EIO, f);
    }
    // A READ reply must carry exactly what was asked; a CAS reply says 0 or 1.
    if (p.type === FrameType.READ && f.payload.length !== p.count) {
      return this.#complete(f.seq, p, Errno.EIO, null);
    }
    if (p.type === FrameType.CAS && f.arg1 !== 0 && f.arg1 !== 1) {
      return this.#complete(f.seq, p, Errno.EIO, null);
    }
    this.#complete(f.seq, p, 0, f);
  }

  #complete(seq: number, p: Pending, errno: number, f: Frame | null): void {
    this.#pending.delete(seq);
    if (p.local) pinPages(p.local, p.localOffset, depositBytes(p.type, p), -1);
    // The owner's kernel named the exporter: the descriptor knows its peer from now on.
    if (errno === 0 && f && f.srcPid > 0 && p.proc) {
      const d = p.proc.descriptors.get(p.descId);
      if (d && d.owner === undefined) d.owner = f.srcPid;
    }
    if (p.proc) {
      const n = this.#perProcess(p.proc) - 1;
      if (n > 0) this.#outstanding.set(p.proc, n);
      else this.#outstanding.delete(p.proc);
      // It was held back: its DMA ring (and a trap behind it) may go on now.
      if (n === MAX_OUTSTANDING - 1) this.#host.resume(p.proc);
    }
    if (this.#tracing && p.proc) {
      const what =
        `${typeName(p.type)} pid ${p.proc.pid} descriptor ${p.descId} offset ${p.offset} ` +
        `size ${p.type === FrameType.CAS ? 4 : p.count}`;
      // An error that reaches the process is traced by #errorCompletion, with its code.
      if (errno === 0) this.#host.tracer.trace("remote", `complete ${what} from node ${p.node}`);
      else if (p.done) {
        this.#host.tracer.trace("remote", `error ${what}: ${errnoName(errno)} from node ${p.node}`);
      }
    }
    if (p.done) return p.done(errno, f);
    const proc = p.proc;
    if (!proc || proc.state !== "running") return;
    if (errno !== 0) {
      if (p.tag) this.#host.completionEvent(proc, p.tag, errno);
      this.#errorCompletion(proc, p.descId, p.node, errno);
      return;
    }
    this.stats.completed++;
    const local = p.local;
    if (local && f) {
      if (p.type === FrameType.READ) storeBytes(local, p.localOffset, f.payload);
      else if (p.type === FrameType.CAS) {
        kernelStored(local, p.localOffset, 4);
        Atomics.store(local.words, p.localOffset >> 2, f.arg1);
      }
    }
    // Outgoing Tripwires see our own access complete (002 §2.5), its data in place.
    this.#host.tripwires.matchOutgoing(
      p.node,
      p.exportId,
      p.offset,
      p.type === FrameType.CAS ? 4 : p.count,
      p.type === FrameType.READ || (p.type === FrameType.CAS && f?.arg1 !== 1)
        ? Access.READ
        : Access.WRITE,
    );
    // The event first: a process that sees the count may go on to wait for it.
    if (p.tag) this.#host.completionEvent(proc, p.tag, 0);
    Atomics.add(proc.trap, Trap.REMOTE_DONE, 1);
    Atomics.notify(proc.trap, Trap.REMOTE_DONE);
    if (p.notify && local) this.#host.signalSegment(local, p.localOffset);
  }

  /**
   * The owner refused a posted WRITE: an error completion for the process that
   * posted it, against its descriptor for that export. Only a process that holds a
   * descriptor for exactly that export of the sending node (same generation) is
   * charged: a NACK naming anyone else is dropped, so a node cannot make another
   * node's processes count errors for exports they never wrote to.
   */
  #refused(f: Frame): void {
    const proc = this.#host.procs.get(f.arg1);
    const d = proc?.state === "running"
      ? proc.descriptors.all().find((d) =>
        d.node === f.srcNode && d.exportId === f.exportId && d.genHi === f.genHi &&
        d.genLo === f.genLo
      )
      : undefined;
    if (!proc || !d) {
      this.stats.orphanReplies++;
      return;
    }
    this.#errorCompletion(proc, d.id, f.srcNode, KNOWN_ERRNOS.has(f.arg0) ? f.arg0 : Errno.EIO);
  }

  /** Counts an error completion in the process's trap page, sticky until remote_status. */
  #errorCompletion(proc: Process, descId: number, node: number, errno: number): void {
    this.stats.errors++;
    Atomics.store(proc.trap, Trap.REMOTE_ERRNO, errno);
    Atomics.store(proc.trap, Trap.REMOTE_ERR_DESC, descId);
    Atomics.add(proc.trap, Trap.REMOTE_ERRORS, 1);
    Atomics.notify(proc.trap, Trap.REMOTE_DONE); // awaitRemote sleeps on REMOTE_DONE
    this.#host.tracer.trace(
      "remote",
      `error pid ${proc.pid} descriptor ${descId}: ${errnoName(errno)} from node ${node}`,
    );
  }
}

/** The owner's checks, in the order a reader would ask them; 0 if all pass. */
function check(f: Frame, e: Export | undefined): number {
  if (!e) return Errno.ESTALE; // revoked (or never exported): the name is dead
  if (!e.wellKnown && (f.genHi !== e.genHi || f.genLo !== e.genLo)) return Errno.ESTALE;
  if (e.nodes && !e.nodes.includes(f.srcNode)) return Errno.EPERM;
  if (e.pids && !e.pids.includes(f.srcPid)) return Errno.EPERM;
  const need = f.type === FrameType.READ || f.type === FrameType.JOIN
    ? Rights.READ
    : f.type === FrameType.WRITE
    ? Rights.WRITE
    : Rights.CAS;
  if (!(e.rights & need)) return Errno.EPERM;
  const count = f.type === FrameType.CAS ? 4 : f.type === FrameType.JOIN ? 1 : f.count;
  if (count === 0 || count > MAX_PAYLOAD || f.offset + count > e.segment.size) return Errno.EINVAL;
  // A per-node export (a clerk's mailbox) takes writes from node n only in slot n.
  if (e.slotPerNode && f.type !== FrameType.READ) {
    const first = f.srcNode * e.slotPerNode;
    if (f.offset < first || f.offset + count > first + e.slotPerNode) return Errno.EPERM;
  }
  if (f.type === FrameType.CAS && (f.offset & 3) !== 0) return Errno.EINVAL;
  // Write inhibit stops writes; a JOIN only reads (the units it sends are refused).
  if (f.type !== FrameType.READ && f.type !== FrameType.JOIN && e.inhibited) return Errno.EPERM;
  return 0;
}

/** Whether a completed write notifies the owner (000 §3.1.1 notify policies). */
function notifies(seg: Segment, f: Frame): boolean {
  if (seg.notifyPolicy === NotifyPolicy.ALWAYS) return true;
  if (seg.notifyPolicy === NotifyPolicy.NEVER) return false;
  return (f.flags & FrameFlag.NOTIFY) !== 0;
}

const TYPE_NAMES = new Map<number, string>(Object.entries(FrameType).map(([k, v]) => [v, k]));

/** A frame type's name (WRITE, READ, CAS, JOIN...), for traces. */
function typeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `type ${type}`;
}
