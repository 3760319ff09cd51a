/**
 * A node's kernel: the process table, the segment table, the trap service and the
 * signal delivery path. It is pure: host I/O (workers, files, the console) comes in
 * through the `ProcessHost` and `Console` interfaces, so tests run it in-process.
 *
 * Life of a process: `spawn` builds its trap page, FIFO and address space and asks
 * the host for a worker; traps arrive through the TrapService and are dispatched to
 * the handlers in kernel/syscalls/; `terminate` ends it (exit, kill, fault or
 * crash), frees every resource it held, and hands its status to the parent, which
 * reaps it with `wait` (a process whose parent is the kernel itself, pid 0, is
 * reaped at once).
 */

import { Errno, errnoName } from "./abi/errors.ts";
import {
  DEFAULT_FIFO_CAPACITY,
  DMA_CAPACITY,
  DmaQueue,
  EventKind,
  EXIT_KILLED_BASE,
  Fifo,
  MAX_SEGMENT_BYTES,
  NotifyPolicy,
  PAGE_SIZE,
  Rights,
  Sig,
  SIGNAL_NAMES,
  signalAddress,
  SignalPath,
  Trap,
  TRAP_ARGS,
  TrapState,
} from "./abi/layout.ts";
import { syscallByNumber, SYSCALLS, type SyscallSpec } from "./abi/syscalls.ts";
import type { Console, ProcessHost } from "./host_interface.ts";
import { Segment, type SegmentAttributes } from "./memory/segment.ts";
import type { Binding } from "./memory/binding.ts";
import type { HandlerTable } from "./signal/handler_table.ts";
import { type Export, ExportTable } from "./remote/export_table.ts";
import { blankRecord, type NameClient, type NameRecord } from "./remote/name_client.ts";
import { type RemoteHost, RemoteMemory } from "./remote/remote_memory.ts";
import { type ChannelHost, MessageChannels } from "./remote/message_channels.ts";
import { eventPage, postEvent, TripwireTable } from "./remote/tripwires.ts";
import { DMA_BATCH, drainDma } from "./remote/dma_queue.ts";
import { FailureDetector, type PeerState } from "./remote/failure_detector.ts";
import { HEARTBEAT_BYTES, NameOp, WellKnown } from "./abi/names.ts";
import type { DirectoryEntry } from "./signal/signal_directory.ts";
import { fail, hex, KernelError } from "./panic.ts";
import { type ExitStatus, Process } from "./proc/process.ts";
import { BLOCKED, decode, type Handler } from "./trap/dispatch.ts";
import { TrapService } from "./trap/trap_service.ts";
import { makeHandlers } from "./syscalls/mod.ts";
import { writeDataPrefix } from "./syscalls/data.ts";
import type { TraceKind } from "./trace.ts";

/** How long a name request waits for the node's clerk to start (see askNames). */
const CLERK_WAIT_MS = 5_000;

interface BacklogItem {
  r: NameRecord;
  cb: (a: NameRecord) => void;
  timer: ReturnType<typeof setTimeout>;
}

export interface KernelConfig {
  /** Node id (for traces and, later, the cluster). */
  nodeId: number;
  /** How long the trap service spins after its last request, in µs (0 = block-only). */
  spinUs: number;
  /** How many iterations a process spins on a trap or SigWait before blocking. */
  processSpin: number;
  /** Signal FIFO capacity per process (001 §3.1.2: 128). */
  fifoCapacity: number;
  /** Physical memory of the node: the sum of all segment sizes. */
  memoryBytes: number;
  /** This boot's incarnation, the high word of every generation (random if 0). */
  incarnation: number;
  /** Failure detection (000 §3.7): how often peers' heartbeats are read, and after
   * how long without an answer a peer is declared down. */
  heartbeatMs: number;
  failAfterMs: number;
  /** How Signal reaches receivers (see SignalPath in kernel/abi/layout.ts). */
  signalPath: "hardware" | "software";
  /** Fault injection: drop every n-th signal posted to each process's FIFO (0: none). */
  signalLossEvery: number;
  trace: ReadonlySet<TraceKind>;
}

export const DEFAULT_CONFIG: KernelConfig = {
  nodeId: 0,
  spinUs: 50,
  processSpin: 2000,
  fifoCapacity: DEFAULT_FIFO_CAPACITY,
  memoryBytes: 4 * MAX_SEGMENT_BYTES,
  incarnation: 0,
  heartbeatMs: 250,
  failAfterMs: 1_000,
  signalPath: "hardware",
  signalLossEvery: 0,
  trace: new Set(),
};

/** Options for spawning from the kernel's side (the host, a test, or `sys_spawn`). */
export interface SpawnOptions {
  ppid?: number;
  /** Segments the child may bind, with rights (never more than the parent holds). */
  share?: { segment: number; rights: number }[];
}

export interface KernelStats {
  traps: number;
  faults: number;
  zeroFills: number;
  signalsQueued: number;
  signalsDropped: number;
  spawned: number;
  exited: number;
  memoryUsed: number;
}

export class Kernel implements RemoteHost, ChannelHost {
  readonly config: KernelConfig;
  /** Segments this node exports by name (000 §4.1). */
  readonly exports: ExportTable;
  /** The remote-memory co-processor (000 §3.1.1). */
  readonly remote: RemoteMemory;
  /** Message segments bound on several nodes (001 §3.2.3). */
  readonly channels: MessageChannels;
  /** Tripwires (002 §2.5): the network interface's address matcher. */
  readonly tripwires: TripwireTable;
  /** The channel to this node's name clerk, once one has attached. */
  names: NameClient | null = null;
  clerk: Process | null = null;
  #send: ((to: number, bytes: Uint8Array) => void) | null = null;
  #reachable: (node: number) => boolean = (node) => node === this.config.nodeId;
  readonly host: ProcessHost;
  readonly console: Console;
  readonly procs = new Map<number, Process>();
  readonly segments = new Map<number, Segment>();
  readonly trapService: TrapService;
  readonly stats: KernelStats = {
    traps: 0,
    faults: 0,
    zeroFills: 0,
    signalsQueued: 0,
    signalsDropped: 0,
    spawned: 0,
    exited: 0,
    memoryUsed: 0,
  };
  #nextPid = 1;
  #nextSegment = 1;
  /** Handlers indexed by system-call number; `#args` is the reused decode buffer. */
  readonly #byNumber: Handler[] = [];
  readonly #args: number[] = new Array(TRAP_ARGS).fill(0);
  readonly #traceTraps: boolean;
  #halted = false;
  readonly #ownsTrapService: boolean;

  /**
   * Boots a node. Nodes of one host thread share `trapService` (see Cluster); a
   * node given none starts and owns its own.
   */
  constructor(
    host: ProcessHost,
    console: Console,
    config: Partial<KernelConfig> = {},
    trapService?: TrapService,
  ) {
    this.config = { ...DEFAULT_CONFIG, ...config };
    if (!this.config.incarnation) {
      this.config.incarnation = crypto.getRandomValues(new Uint32Array(1))[0] || 1;
    }
    this.exports = new ExportTable(this.config.incarnation);
    this.remote = new RemoteMemory(this);
    this.channels = new MessageChannels(this);
    this.tripwires = new TripwireTable({
      eventPage: (pid) => {
        const p = this.procs.get(pid);
        return p && p.state === "running" ? p.events : null;
      },
    });
    // Kernel memory: in no process's reach and outside the segment table.
    const heartbeat = new Segment(0, 0, {
      size: HEARTBEAT_BYTES,
      mode: 0,
      unit: 0,
      notifyPolicy: NotifyPolicy.NEVER,
    });
    Atomics.store(heartbeat.words, 1, this.config.incarnation | 0);
    this.exports.addWellKnown(WellKnown.HEARTBEAT, heartbeat, 0, "kernel.heartbeat", Rights.READ);
    this.detector = new FailureDetector(
      this,
      heartbeat,
      this.config.heartbeatMs,
      this.config.failAfterMs,
    );
    // Tracing signals needs the kernel to see each one: use the software path.
    if (this.config.trace.has("signals")) this.config.signalPath = "software";
    this.host = host;
    this.console = console;
    const handlers = makeHandlers(this);
    for (const s of SYSCALLS) this.#byNumber[s.no] = handlers[s.name];
    this.#traceTraps = this.config.trace.has("traps");
    this.#ownsTrapService = !trapService;
    this.trapService = trapService ?? new TrapService(this.config.spinUs);
    if (this.#ownsTrapService) this.trapService.start();
  }

  // -------------------------------------------------------------------------
  // Processes

  /** Starts a process; throws KernelError (ENOENT, EPERM, …) if it cannot. */
  spawn(module: string, args: string[] = [], opts: SpawnOptions = {}): Process {
    if (this.#halted) fail("EIO", "the node has halted");
    const url = this.host.resolveModule(module);
    if (!url) fail("ENOENT", `no program ${JSON.stringify(module)}`);
    const ppid = opts.ppid ?? 0;
    const parent = this.procs.get(ppid);
    const share = opts.share ?? [];
    for (const s of share) {
      const seg = this.segments.get(s.segment);
      if (!seg) fail("EBADF", `no segment ${s.segment}`);
      const held = parent ? seg.holders.get(ppid) ?? 0 : s.rights;
      if (s.rights & ~held) fail("EPERM", `segment ${s.segment}: rights ${s.rights} not held`);
    }
    const p = new Process(
      this,
      this.#nextPid++,
      ppid,
      url,
      args,
      this.config.fifoCapacity,
      this.config.signalLossEvery,
    );
    Atomics.store(p.trap, Trap.SPIN, this.config.processSpin);
    Atomics.store(p.trap, Trap.NODE, this.nodeId);
    Atomics.store(
      p.trap,
      Trap.SIGNAL_PATH,
      this.config.signalPath === "software" ? SignalPath.SOFTWARE : SignalPath.HARDWARE,
    );
    for (const s of share) {
      const seg = this.segments.get(s.segment)!;
      seg.holders.set(p.pid, (seg.holders.get(p.pid) ?? 0) | s.rights);
    }
    this.procs.set(p.pid, p);
    parent?.children.add(p.pid);
    this.stats.spawned++;
    p.handle = this.host.start({
      pid: p.pid,
      ppid,
      module: url,
      args,
      trap: p.trapBuffer,
      fifo: p.fifo.buffer,
      pageTable: p.space.pageTable.buffer,
      doorbell: this.trapService.doorbellBuffer,
    }, (message) => this.terminate(p, EXIT_KILLED_BASE + Sig.SIGABRT, `crashed: ${message}`));
    this.trapService.running.push(p);
    return p;
  }

  /**
   * Ends a process: stops its worker, frees its bindings, segments it alone held,
   * handlers and trap page, re-parents its children, and reports to its parent.
   */
  terminate(p: Process, status: number, reason: string): void {
    if (p.state !== "running") return;
    p.handle?.terminate();
    p.state = "zombie";
    try {
      p.blocked?.cancel();
      p.blocked = null;
      const i = this.trapService.running.indexOf(p);
      if (i >= 0) this.trapService.running.splice(i, 1);
      this.#freeResources(p);
    } finally {
      // Whatever freeing met, the process is gone and its parent must hear of it.
      this.stats.exited++;
      this.stats.signalsDropped += p.fifo.dropped();
      p.markExited({ pid: p.pid, status, reason: clip(reason) });
      this.#reparentChildren(p);
      this.#notifyParent(p);
    }
  }

  #freeResources(p: Process): void {
    if (p === this.clerk && this.names) {
      // The name service is gone with its clerk: waiting requests fail, none are taken.
      this.names.channel.kernelHandler = null;
      this.names.failAll(Errno.EIO);
      this.names = null;
      this.clerk = null;
    }
    p.handlers.ranges.length = 0;
    p.signalEvents.ranges.length = 0;
    this.tripwires.dropProcess(p.pid);
    // Its exports die with it, as if it had revoked them: importers get ESTALE, and
    // nodes bound to its message segments stop receiving them.
    for (const e of this.exports.all()) {
      if (e.owner !== p.pid || e.wellKnown) continue;
      this.removeExport(e, true);
    }
    for (const b of [...p.space.bindings]) {
      p.space.unbind(b);
      this.refreshDirectory(b.segment);
    }
    for (const seg of [...this.segments.values()]) {
      if (seg.holders.delete(p.pid)) this.maybeFreeSegment(seg);
    }
    // It may have died between reserving a FIFO entry and publishing it: let each
    // receiver it could post to skip one stuck entry (kernel/signal/fifo_ring.ts).
    for (const pid of p.fifosGranted) {
      const q = this.procs.get(pid);
      if (q) Atomics.add(q.fifo.words, Fifo.PRODUCER_DEATHS, 1);
    }
  }

  #reparentChildren(p: Process): void {
    const init = this.procs.get(1);
    const heir = init && init.state === "running" && init !== p ? 1 : 0;
    for (const cpid of p.children) {
      const c = this.procs.get(cpid);
      if (!c) continue;
      c.ppid = heir;
      if (heir) init!.children.add(cpid);
      else if (c.state === "zombie") this.reap(c);
    }
    p.children.clear();
    if (heir && [...init!.children].some((c) => this.procs.get(c)?.state === "zombie")) {
      this.onChildExit(init!);
    }
  }

  #notifyParent(p: Process): void {
    const parent = this.procs.get(p.ppid);
    if (!parent || parent.state !== "running") return this.reap(p);
    this.onChildExit(parent);
    this.signalProcess(parent, Sig.SIGCHLD, p.pid, true);
  }

  /** Hook set by the wait system call: completes a parent's blocked wait. */
  onChildExit: (parent: Process) => void = () => {};

  /** Removes a zombie from the process table for good. */
  reap(p: Process): void {
    this.procs.delete(p.pid);
    this.procs.get(p.ppid)?.children.delete(p.pid);
  }

  /**
   * Sends Unix-style signal `signo` to `p` (001 §3.1 footnote 4): delivered at its
   * well-known address if `p` has a handler there, otherwise the default action
   * (terminate; SIGCHLD is ignored). SIGKILL cannot be handled.
   */
  signalProcess(p: Process, signo: number, from: number, quiet = false): void {
    const name = SIGNAL_NAMES[signo] ?? `signal ${signo}`;
    if (signo !== Sig.SIGKILL) {
      const addr = signalAddress(signo);
      const id = p.handlers.lookup(addr);
      if (id) {
        this.queueSignal(p, addr, id);
        return;
      }
      if (signo === Sig.SIGCHLD) return;
    }
    if (!quiet || signo !== Sig.SIGCHLD) {
      this.terminate(
        p,
        EXIT_KILLED_BASE + signo,
        `killed by ${name}${from ? ` from pid ${from}` : ""}`,
      );
    }
  }

  /**
   * Signals every handler on (segment, offset): each process binding the segment
   * with a handler there gets its own address for it (001 Fig. 2), and a kernel-side
   * handler (the name channel) is called. Returns how many processes were queued.
   */
  signalSegment(seg: Segment, offset: number): number {
    let n = 0;
    for (const b of seg.bindings) {
      const receiver = this.procs.get(b.pid);
      if (!receiver || receiver.state !== "running") continue;
      const rv = b.vaddr + offset;
      // A range registered with event_signal takes the signal as an event instead.
      const tag = receiver.signalEvents.size ? receiver.signalEvents.lookup(rv) : 0;
      if (tag) {
        if (receiver.events && postEvent(receiver.events, EventKind.SIGNAL, tag, rv)) n++;
        continue;
      }
      const id = receiver.handlers.lookup(rv);
      if (id && this.queueSignal(receiver, rv, id)) n++;
    }
    seg.kernelHandler?.(offset);
    return n;
  }

  /** Puts one signal in a process's FIFO, counting drops. */
  queueSignal(p: Process, vaddr: number, id: number): boolean {
    const ok = p.fifo.push(vaddr, id);
    if (ok) {
      p.counters.signalsQueued++;
      this.stats.signalsQueued++;
    }
    this.trace(
      "signals",
      `pid ${p.pid} <- ${hex(vaddr)} handler ${id}${ok ? "" : " DROPPED (FIFO full)"}`,
    );
    return ok;
  }

  // -------------------------------------------------------------------------
  // The network

  get nodeId(): number {
    return this.config.nodeId;
  }

  /**
   * Connects the node's network interface: `send` carries frames to other nodes,
   * `backlog` says how many bytes for a node are still waiting to leave. Returns
   * the function the network calls with each frame that arrives.
   */
  attachNetwork(
    send: (to: number, bytes: Uint8Array) => void,
    reachable: (node: number) => boolean = () => true,
    backlog: (node: number) => number = () => 0,
  ): (b: Uint8Array, from: number) => void {
    this.#send = send;
    this.#reachable = reachable;
    this.#backlog = backlog;
    return (bytes, from) => this.remote.receive(bytes, from);
  }

  #backlog: (node: number) => number = () => 0;

  /** Bytes sent to `node` that have not left yet (the link or socket is behind). */
  backlog(node: number): number {
    return this.#backlog(node);
  }

  /** Sends frame bytes (to itself without a network: a loopback). */
  send(to: number, bytes: Uint8Array): void {
    if (this.#send) this.#send(to, bytes);
    else if (to === this.nodeId) this.remote.receive(bytes, to);
  }

  /** Name requests made before the node's clerk attached (it starts with the node). */
  readonly #nameBacklog: BacklogItem[] = [];

  /**
   * Posts a request to the name clerk. While none has attached yet (it is still
   * starting), the request waits for one up to CLERK_WAIT_MS, then fails with EIO.
   * Returns a function that cancels the wait.
   */
  askNames(r: NameRecord, cb: (a: NameRecord) => void): () => void {
    if (this.names) return this.names.request(r, cb);
    const item = {
      r,
      cb,
      timer: setTimeout(() => {
        this.#dropBacklog(item);
        cb({ ...r, status: Errno.EIO });
      }, CLERK_WAIT_MS),
    };
    this.#nameBacklog.push(item);
    return () => this.#dropBacklog(item);
  }

  #dropBacklog(item: BacklogItem): void {
    clearTimeout(item.timer);
    const i = this.#nameBacklog.indexOf(item);
    if (i >= 0) this.#nameBacklog.splice(i, 1);
  }

  /**
   * A clerk attached: it takes the name service and every request that waited. A
   * clerk that replaces a dead one is told the node's live exports again first.
   */
  attachNames(names: NameClient, clerk: Process): void {
    this.names = names;
    this.clerk = clerk;
    for (const e of this.exports.all()) {
      if (e.wellKnown) continue;
      const r = blankRecord(NameOp.ADD, e.name);
      Object.assign(r, {
        node: this.nodeId,
        exportId: e.id,
        genHi: e.genHi,
        genLo: e.genLo,
        rights: e.rights,
        size: e.segment.size,
      });
      names.request(r, () => {});
    }
    for (const item of [...this.#nameBacklog]) {
      this.#dropBacklog(item);
      names.request(item.r, item.cb);
    }
  }

  /** Failure detection by heartbeat reads (000 §3.7). */
  readonly detector: FailureDetector;

  /** Starts watching a peer's heartbeat. */
  watch(node: number): void {
    if (node !== this.nodeId) this.detector.watch(node);
  }

  /** True if `node` has been detected down, or the network has no route to it. */
  nodeDown(node: number): boolean {
    if (node === this.nodeId) return false;
    return this.detector.peers.get(node)?.up === false || !this.#reachable(node);
  }

  /** A peer went down, came back up, or restarted (a new incarnation). */
  peerChanged(peer: PeerState, change: "down" | "up" | "restarted"): void {
    this.trace("remote", `node ${peer.node} is ${change}`);
    if (change === "up") return;
    this.channels.dropNode(peer.node, this.segments.values());
    // Its names are purged from the clerk's cache (a restarted node's old names
    // carry old generations: a lookup must fetch the new ones).
    const purge = blankRecord(NameOp.PURGE_NODE);
    purge.node = peer.node;
    this.names?.request(purge, () => {});
  }

  /**
   * Marks every descriptor naming (node, export, generation) stale: the name clerk's
   * refresh found it revoked. Operations on them now fail locally with ESTALE.
   */
  invalidate(node: number, exportId: number, genHi: number, genLo: number): void {
    for (const p of this.procs.values()) {
      for (const d of p.descriptors.all()) {
        if (d.node === node && d.exportId === exportId && d.genHi === genHi && d.genLo === genLo) {
          d.stale = true;
        }
      }
    }
  }

  warn(line: string): void {
    this.console.write(2, `node${this.nodeId}: ${line}\n`);
  }

  // -------------------------------------------------------------------------
  // Segments

  /** Creates a segment held by `pid` with all rights; throws ENOMEM past node memory. */
  createSegment(pid: number, attrs: SegmentAttributes): Segment {
    const size = Math.ceil(attrs.size / PAGE_SIZE) * PAGE_SIZE;
    if (this.stats.memoryUsed + size > this.config.memoryBytes) {
      fail(
        "ENOMEM",
        `${size} bytes would exceed the node's ${this.config.memoryBytes} (${this.stats.memoryUsed} in use)`,
      );
    }
    const seg = new Segment(this.#nextSegment++, pid, attrs);
    seg.holders.set(pid, 7);
    this.segments.set(seg.id, seg);
    this.stats.memoryUsed += seg.size;
    return seg;
  }

  /**
   * Rewrites a segment's signal directory after a binding or a handler changed, and
   * first hands every process that binds the segment the FIFOs of the receivers it
   * may now post to (so a sender never finds a receiver it cannot reach).
   */
  refreshDirectory(seg: Segment): void {
    const entries: DirectoryEntry[] = [];
    /** Enters the ranges of `table` that binding `b` covers, for receiver `pid`. */
    const enter = (table: HandlerTable, b: Binding, pid: number) => {
      for (const r of table.ranges) {
        const first = Math.max(r.vaddr, b.vaddr),
          end = Math.min(r.vaddr + r.size, b.vaddr + b.size);
        if (first < end) entries.push({ pid, first: first - b.vaddr, end: end - b.vaddr });
      }
    };
    for (const b of seg.bindings) {
      const receiver = this.procs.get(b.pid);
      if (!receiver || receiver.state !== "running") continue;
      enter(receiver.handlers, b, b.pid);
      // pid 0, the kernel: a range whose signals become events makes senders trap,
      // as only the kernel writes the event queue.
      enter(receiver.signalEvents, b, 0);
    }
    // The kernel has no FIFO a sender could post to: its entry makes senders trap.
    if (seg.kernelHandler) entries.push({ pid: 0, first: 0, end: seg.size });
    if (this.config.signalPath === "hardware") {
      const receivers = new Set(entries.map((e) => e.pid).filter((pid) => pid !== 0));
      for (const b of seg.bindings) {
        const sender = this.procs.get(b.pid);
        if (!sender || sender.state !== "running") continue;
        for (const pid of receivers) {
          if (sender.fifosGranted.has(pid)) continue;
          sender.fifosGranted.add(pid);
          sender.handle?.grant({ kind: "fifo", pid, buffer: this.procs.get(pid)!.fifo.buffer });
          Atomics.add(sender.trap, Trap.GRANTS, 1);
        }
      }
    }
    seg.directory.publish(entries, this.channels.linked(seg));
  }

  /** Frees a segment once nobody holds or binds it, revoking its exports. */
  maybeFreeSegment(seg: Segment): void {
    if (seg.holders.size > 0 || seg.bindings.size > 0) return;
    if (!this.segments.delete(seg.id)) return;
    this.stats.memoryUsed -= seg.size;
    if (seg.channel) this.channels.forget(seg);
    for (const e of this.exports.ofSegment(seg)) {
      this.removeExport(e, true);
    }
  }

  /**
   * Ends an export: the owner answers ESTALE from now on, and its members are
   * dropped; with `tellClerk`, the name clerk is asked to delete the name (revoke
   * asks it itself, to wait for the answer).
   */
  removeExport(e: Export, tellClerk = false): void {
    this.exports.remove(e.id);
    this.channels.dropExport(e);
    if (tellClerk && !e.wellKnown) {
      this.names?.request(blankRecord(NameOp.DELETE, e.name), () => {});
    }
  }

  // -------------------------------------------------------------------------
  // Traps

  /**
   * Serves one posted trap of a process of this node (called by the TrapService);
   * false if it must wait (its DMA ring could not be emptied first).
   */
  serveTrap(p: Process): boolean {
    // Requests queued before this trap leave before anything it asks for. If too
    // many are outstanding for all of them to go now, the trap waits its turn.
    if (p.dma !== null) {
      for (let n; (n = drainDma(this, p, DMA_CAPACITY)) > 0;) p.dmaTaken += n;
      if (Atomics.load(p.dma, DmaQueue.TAIL) !== p.dmaHead) return false;
    }
    p.inTrap = true;
    p.counters.traps++;
    this.stats.traps++;
    const args = this.#args;
    let spec: SyscallSpec | undefined;
    let result = 0, result2 = 0, errno = 0, detail = "";
    try {
      spec = decode(p.trap, args);
      const reply = this.#byNumber[spec.no](p, args);
      p.dmaTaken = 0;
      if (reply === BLOCKED) return true;
      if (typeof reply === "number") result = reply;
      else ({ result, result2 } = reply);
    } catch (e) {
      p.dmaTaken = 0;
      result = -1;
      if (e instanceof KernelError) {
        errno = e.errno;
        detail = e.message;
      } else {
        errno = Errno.EIO;
        detail = String(e);
        this.#bug(spec?.name ?? "?", e);
      }
      writeDataPrefix(p.trap, detail);
    }
    if (this.#traceTraps) this.#traceTrap(p, spec?.name ?? "?", result, errno, detail);
    this.complete(p, result, errno, result2);
    return true;
  }

  /** Takes a batch from the process's DMA queue (called by the TrapService). */
  serveDma(p: Process): number {
    return drainDma(this, p, DMA_BATCH);
  }

  /** A process may issue again: its ring, or a trap waiting behind it, can go now. */
  resume(_p: Process): void {
    this.trapService.kick();
  }

  /** Puts a COMPLETION event into a process's event queue (its page made if need be). */
  completionEvent(p: Process, tag: number, errno: number): void {
    if (p.state === "running") postEvent(eventPage(p), EventKind.COMPLETION, tag, errno);
  }

  /** Completes the process's current trap with a result and wakes it. */
  complete(p: Process, result: number, errno = 0, result2 = 0): void {
    if (p.state !== "running") return;
    const t = p.trap;
    t[Trap.RESULT] = result;
    t[Trap.ERRNO] = errno;
    t[Trap.RESULT2] = result2;
    p.inTrap = false;
    p.blocked = null;
    if (Atomics.exchange(t, Trap.STATE, TrapState.DONE) === TrapState.SLEEPING) {
      Atomics.notify(t, Trap.STATE);
    }
  }

  /** Completes a blocked trap (with a reason when it fails), tracing it like any other. */
  completeBlocked(p: Process, result: number, errno = 0, result2 = 0, detail = ""): void {
    if (p.state !== "running") return;
    if (errno !== 0) writeDataPrefix(p.trap, detail);
    if (this.#traceTraps) {
      const name = syscallByNumber(p.trap[Trap.SYSNO])?.name ?? "?";
      this.#traceTrap(p, name, result, errno, detail);
    }
    this.complete(p, result, errno, result2);
  }

  #traceTrap(p: Process, name: string, result: number, errno: number, detail: string): void {
    const args = [0, 1, 2, 3].map((i) => p.trap[Trap.ARG0 + i]).join(", ");
    const res = errno ? `${errnoName(errno)}${detail ? ` (${detail})` : ""}` : `${result}`;
    this.trace("traps", `pid ${p.pid} ${name}(${args}) -> ${res}`);
  }

  #bug(name: string, e: unknown): void {
    const text = e instanceof Error ? e.stack ?? e.message : String(e);
    this.console.write(2, `kernel: bug in sys_${name}: ${text}\n`);
  }

  /** Prints a trace line if `kind` is enabled. */
  trace(kind: TraceKind, line: string): void {
    if (this.config.trace.has(kind)) {
      this.console.write(2, `[trace node${this.config.nodeId} ${kind}] ${line}\n`);
    }
  }

  /** Stops every process and the trap service. */
  halt(): void {
    if (this.#halted) return;
    this.#halted = true;
    for (const p of [...this.procs.values()]) {
      this.terminate(p, EXIT_KILLED_BASE + Sig.SIGKILL, "node halted");
    }
    this.detector.stop();
    for (const item of [...this.#nameBacklog]) this.#dropBacklog(item);
    if (this.#ownsTrapService) this.trapService.stop();
  }

  get halted(): boolean {
    return this.#halted;
  }
}

/** Keeps an exit reason to a length that fits any trap's data area, saying so. */
function clip(reason: string): string {
  const MAX = 1000;
  return reason.length <= MAX
    ? reason
    : `${reason.slice(0, MAX)}… (${reason.length - MAX} more characters)`;
}

export { Errno };
export type { ExitStatus };
