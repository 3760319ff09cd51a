/**
 * A node's kernel: the composition root that builds a node from its parts and wires
 * them together (kernel/parts.ts says what each owns). It is pure: host I/O (workers,
 * the console, time, randomness, disk images) comes through the host interface, so
 * tests run it in-process, on a controlled clock if they like. What is left here is
 * what crosses parts: a process's end (`#release` frees what every part holds for it,
 * in order), a segment's end, an export's end, and a peer's failure.
 */

import { EXIT_KILLED_BASE, Fifo, Sig } from "./abi/layout.ts";
import { NameOp } from "./abi/names.ts";
import { DEFAULT_CONFIG, type KernelConfig } from "./config.ts";
import { ConsoleInput } from "./dev/console_input.ts";
import { DiskTable } from "./dev/disk_table.ts";
import type { Clock, Console, ProcessHost } from "./host_interface.ts";
import { PagerTable } from "./memory/pager_table.ts";
import { releasePins } from "./memory/pins.ts";
import { Segment } from "./memory/segment.ts";
import { SegmentTable } from "./memory/segment_table.ts";
import { NetworkInterface } from "./net/nic.ts";
import { newStats } from "./node_stats.ts";
import { fail } from "./panic.ts";
import type { NodeParts } from "./parts.ts";
import type { Process } from "./proc/process.ts";
import { ProcessTable, type SpawnOptions } from "./proc/process_table.ts";
import { ServiceRegistry } from "./proc/service_registry.ts";
import { drainDma } from "./remote/dma_queue.ts";
import { type Export, ExportTable } from "./remote/export_table.ts";
import { FailureDetector, type PeerChange, type PeerState } from "./remote/failure_detector.ts";
import { MessageChannels } from "./remote/message_channels.ts";
import { blankRecord } from "./remote/name_client.ts";
import { NAMES_SERVICE, NameService } from "./remote/name_service.ts";
import { RemoteMemory } from "./remote/remote_memory.ts";
import { completionEvent, TripwireTable } from "./remote/tripwires.ts";
import { SignalDelivery } from "./signal/signal_delivery.ts";
import { flushHeldOutput, makeHandlers } from "./syscalls/mod.ts";
import { Tracer } from "./trace.ts";
import { TrapEntry } from "./trap/trap_entry.ts";
import { TrapService } from "./trap/trap_service.ts";

export { DEFAULT_CONFIG, type KernelConfig, type SpawnOptions };

export class Kernel implements NodeParts {
  readonly config: KernelConfig;
  readonly nodeId: number;
  readonly host: ProcessHost;
  readonly console: Console;
  readonly clock: Clock;
  readonly tracer: Tracer;
  readonly stats = newStats();
  readonly exports: ExportTable;
  readonly nic: NetworkInterface;
  readonly traps: TrapEntry;
  readonly trapService: TrapService;
  readonly segments: SegmentTable;
  readonly procs: ProcessTable;
  readonly signals: SignalDelivery;
  readonly services = new ServiceRegistry();
  readonly pagers = new PagerTable(this);
  readonly nameService: NameService;
  readonly input: ConsoleInput;
  readonly disks: DiskTable;
  /** The remote-memory co-processor (000 §3.1.1) and what it serves. */
  readonly remote: RemoteMemory;
  readonly channels: MessageChannels;
  readonly tripwires: TripwireTable;
  readonly detector: FailureDetector;
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
    const c = this.config = { ...DEFAULT_CONFIG, ...config };
    this.nodeId = c.nodeId;
    if (!c.incarnation) c.incarnation = host.random32() || 1;
    // Tracing signals needs the kernel to see each one: use the software path.
    if (c.trace.has("signals")) c.signalPath = "software";
    this.host = host;
    this.console = console;
    this.clock = host.clock;
    this.tracer = new Tracer(console, c.nodeId, c.trace);
    this.exports = new ExportTable(c.incarnation);
    this.#ownsTrapService = !trapService;
    this.trapService = trapService ?? new TrapService(c.spinUs, this.clock);
    this.traps = new TrapEntry(this.tracer, this.clock, this.stats, c.meter);
    this.nic = new NetworkInterface(c.nodeId, this.tracer, this.traps.meter);
    this.segments = new SegmentTable(c, this, (seg) => this.#segmentFreed(seg));
    this.procs = new ProcessTable({
      ...c,
      host,
      trapService: this.trapService,
      traps: this.traps,
      segments: this.segments,
      stats: this.stats,
      release: (p) => this.#release(p),
      childEnded: (parent) => this.signals.signalProcess(parent, Sig.SIGCHLD, 0, true),
    });
    this.signals = new SignalDelivery({
      procs: this.procs.byPid,
      stats: this.stats,
      tracer: this.tracer,
      signalPath: c.signalPath,
      linked: (seg) => this.channels.linked(seg),
      kill: (p, status, reason) => this.procs.exit(p, status, reason),
    });
    this.nameService = new NameService(c.nodeId, this.exports, this.clock);
    this.input = new ConsoleInput(console);
    this.disks = new DiskTable(this); // the host adds the disks: kernel.disks.add(disk)
    this.tripwires = new TripwireTable({
      eventPage: (pid) => this.procs.running(pid)?.events ?? null,
    });
    const signalSegment = (seg: Segment, off: number) => this.signals.signalSegment(seg, off);
    this.remote = new RemoteMemory({
      ...this.#common(),
      procs: this.procs.byPid,
      random32: () => host.random32(),
      signalSegment,
      resume: () => this.trapService.kick(),
      completionEvent,
      join: (f, e) => this.channels.join(f, e),
    });
    this.channels = new MessageChannels({
      ...this.#common(),
      remote: this.remote,
      segments: this.segments,
      nodeDown: (node) => this.nodeDown(node),
      signalSegment,
      refreshDirectory: (seg) => this.signals.refreshDirectory(seg),
    });
    const peerChanged = (p: PeerState, ch: PeerChange) => this.#peerChanged(p, ch);
    const watcher = { remote: this.remote, clock: this.clock, peerChanged };
    this.detector = new FailureDetector(watcher, this.exports, c.heartbeatMs, c.failAfterMs);
    const nodeDown = (node: number) => this.nodeDown(node);
    const backlog = (node: number) => this.nic.backlog(node);
    const dma = { nodeId: c.nodeId, remote: this.remote, nodeDown, backlog };
    this.traps.install(makeHandlers(this), (p, budget) => drainDma(dma, p, budget));
    if (this.#ownsTrapService) this.trapService.start();
  }

  /** What remote memory and message channels both need of the node. */
  #common() {
    const { exports, tripwires, nic, clock, tracer } = this;
    return { nodeId: this.config.nodeId, exports, tripwires, nic, clock, tracer };
  }

  /** The process holding the name clerk's role, or null. */
  get clerk(): Process | null {
    return this.services.holder(NAMES_SERVICE);
  }

  /** The channel to this node's name clerk, while one is attached. */
  get names() {
    return this.nameService.client;
  }

  get halted(): boolean {
    return this.#halted;
  }

  /** Starts a process; throws KernelError (ENOENT, EPERM, …) if it cannot. */
  spawn(module: string, args: string[] = [], opts: SpawnOptions = {}): Process {
    if (this.#halted) fail("EIO", "the node has halted");
    return this.procs.spawn(module, args, opts);
  }

  /** Sends Unix-style signal `signo` to `p` (see SignalDelivery.signalProcess). */
  signalProcess(p: Process, signo: number, from: number, quiet = false): void {
    this.signals.signalProcess(p, signo, from, quiet);
  }

  /** Frees everything an ending process held, every part in turn. */
  #release(p: Process): void {
    flushHeldOutput(this, p); // a print cut short by its end is not lost
    this.services.release(p);
    p.handlers.ranges.length = p.signalEvents.ranges.length = 0;
    this.tripwires.dropProcess(p.pid);
    // Its exports die with it, as if it had revoked them: importers get ESTALE, and
    // nodes bound to its message segments stop receiving them.
    for (const e of this.exports.all()) {
      if (e.owner === p.pid && !e.wellKnown) this.removeExport(e, true);
    }
    for (const b of [...p.space.bindings]) {
      p.space.unbind(b);
      this.signals.refreshDirectory(b.segment);
    }
    releasePins(p);
    this.segments.dropAll(p.pid);
    p.descriptors.clear();
    // It may have died between reserving a FIFO entry and publishing it: let each
    // receiver it could post to skip one stuck entry (kernel/signal/fifo_ring.ts).
    for (const pid of p.fifosGranted) {
      const q = this.procs.get(pid);
      if (q) Atomics.add(q.fifo.words, Fifo.PRODUCER_DEATHS, 1);
    }
  }

  /** A segment nobody holds or binds is gone: its replica is forgotten, its exports end. */
  #segmentFreed(seg: Segment): void {
    if (seg.channel) this.channels.forget(seg);
    for (const e of this.exports.ofSegment(seg)) this.removeExport(e, true);
  }

  removeExport(e: Export, tellClerk = false): void {
    this.exports.remove(e.id);
    this.channels.dropExport(e);
    if (tellClerk && !e.wellKnown) this.nameService.tell(blankRecord(NameOp.DELETE, e.name));
  }

  /** Starts watching a peer's heartbeat (its incarnation, if a transport proved it). */
  watch(node: number, incarnation = 0): void {
    if (node !== this.nodeId) this.detector.watch(node, incarnation);
  }

  nodeDown(node: number): boolean {
    if (node === this.nodeId) return false;
    return this.detector.peers.get(node)?.up === false || !this.nic.reachable(node);
  }

  /** A peer went down, came back up, or restarted (a new incarnation). */
  #peerChanged(peer: PeerState, change: PeerChange): void {
    this.tracer.trace("remote", `node ${peer.node} is ${change}`);
    if (change === "up") return;
    this.channels.dropNode(peer.node, this.segments.values());
    // Its names are purged from the clerk's cache (a restarted node's old names
    // carry old generations: a lookup must fetch the new ones).
    const purge = blankRecord(NameOp.PURGE_NODE);
    purge.node = peer.node;
    this.nameService.tell(purge);
  }

  /** Stops every process and the trap service. */
  halt(): void {
    if (this.#halted) return;
    this.#halted = true;
    for (const p of [...this.procs.values()]) {
      this.procs.exit(p, EXIT_KILLED_BASE + Sig.SIGKILL, "node halted");
    }
    this.detector.stop();
    this.nameService.stop();
    if (this.#ownsTrapService) this.trapService.stop();
  }
}
