/**
 * The node's disks, and how a driver claims one (`disk_attach`, ARCHITECTURE Wave
 * 2 "Devices").
 *
 * A driver claims a disk with a system call rather than by binding a name: the
 * kernel must know which process drives the device, so that only it may bind the
 * device segment (the segment is made for it alone and can be neither granted nor
 * exported: `Segment.driverOnly`), so that a second driver is refused while it
 * lives (EBUSY), and so that the disk is let go when it ends (the service
 * registry's detach). Only a process with the service capability may drive a
 * disk (EPERM otherwise): init hands it to the servers of servers/table.ts (the
 * file server, the pager's swap), never to a user's program.
 */

import { DISK_SEGMENT_BYTES, type DiskModelName } from "../abi/disk.ts";
import { NotifyPolicy, Rights, SegMode, SegUnit } from "../abi/layout.ts";
import type { Clock, Disk } from "../host_interface.ts";
import type { Segment } from "../memory/segment.ts";
import type { SegmentTable } from "../memory/segment_table.ts";
import { checkLocal, readLocal, writeLocal } from "../memory/user_copy.ts";
import { fail } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import type { ServiceRegistry } from "../proc/service_registry.ts";
import { DiskDevice } from "./disk_device.ts";
import { DISK_MODELS, type DiskModel } from "./disk_model.ts";
import { DiskRings, type DmaMemory } from "./disk_rings.ts";

/** What the disks need of their node (the Kernel itself, kernel/parts.ts). */
export interface DiskTableDeps {
  readonly config: {
    readonly diskModel: DiskModelName;
    readonly diskTimerFloorMs: number;
    readonly spinUs: number;
  };
  /** The trap service, which polls the disks' short due times while it spins. */
  readonly trapService: { addPoller(p: () => boolean): void };
  readonly clock: Clock;
  readonly segments: SegmentTable;
  readonly services: ServiceRegistry;
  /** Raises an address-valued signal at `offset` of `segment` (signal_delivery.ts). */
  readonly signals: { signalSegment(segment: Segment, offset: number): number };
}

/** A process's memory as a disk command's buffer (kernel/memory/user_copy.ts). */
function processMemory(p: Process): DmaMemory {
  return {
    load: (vaddr, count) => readLocal(p.space, vaddr, count),
    checkWritable: (vaddr, count) => checkLocal(p.space, vaddr, count, Rights.WRITE),
    store: (vaddr, bytes) => writeLocal(p.space, vaddr, bytes),
  };
}

export class DiskTable {
  readonly #d: DiskTableDeps;
  readonly #model: DiskModel;
  readonly #devices: DiskDevice[] = [];

  constructor(deps: DiskTableDeps) {
    this.#d = deps;
    this.#model = DISK_MODELS[deps.config.diskModel];
    if (deps.config.spinUs > 0) deps.trapService.addPoller(() => this.#pollDue());
  }

  /** Meets the due times under the timer floor; true while any is waiting. */
  #pollDue(): boolean {
    let waiting = false;
    for (const dev of this.#devices) if (dev.rings?.pollDue()) waiting = true;
    return waiting;
  }

  /** The timing model every disk of the node follows. */
  get model(): DiskModel {
    return this.#model;
  }

  /** The unit of the node's swap disk (`--swap`), or -1. */
  swapUnit = -1;
  /** The unit of the disk the file server mounts (boot's first `--disk`), or -1. */
  filesUnit = -1;

  /**
   * Adds a disk to the node (the host does, at boot); returns its unit number. A
   * swap disk is the swap pager's (servers/pager/), a files disk the file server's
   * (servers/files/): the node has at most one of each.
   */
  add(disk: Disk, o: { swap?: boolean; files?: boolean } = {}): number {
    const unit = this.#devices.length;
    if (o.swap && this.swapUnit >= 0) fail("EBUSY", `the node has a swap disk: ${this.swapUnit}`);
    if (o.files && this.filesUnit >= 0) {
      fail("EBUSY", `the node has a file system disk: ${this.filesUnit}`);
    }
    if (o.swap && o.files) fail("EINVAL", "a disk is for swap or for files, not both");
    this.#devices.push(new DiskDevice(unit, disk, this.#model));
    if (o.swap) this.swapUnit = unit;
    if (o.files) this.filesUnit = unit;
    return unit;
  }

  /** Disk `unit`, if the node has it. */
  get(unit: number): DiskDevice | undefined {
    return this.#devices[unit];
  }

  get count(): number {
    return this.#devices.length;
  }

  /**
   * Makes `p` the driver of disk `unit`: a fresh device segment that only `p`
   * holds, its rings served from now on. Returns the segment's id, for `bind`.
   * Throws ENOENT (no such disk), EPERM (no service capability), EBUSY (driven).
   */
  attach(p: Process, unit: number): number {
    const dev = this.#devices[unit];
    if (!dev) fail("ENOENT", `no disk ${unit}: the node has ${this.#devices.length}`);
    const d = this.#d;
    d.services.checkAttach(dev.role, p);
    const attrs = {
      size: DISK_SEGMENT_BYTES,
      mode: SegMode.NORMAL,
      unit: SegUnit.CACHE_LINE,
      notifyPolicy: NotifyPolicy.NEVER,
    };
    const seg = d.segments.create(p.pid, attrs, Rights.READ | Rights.WRITE);
    seg.driverOnly = true;
    const rings = new DiskRings(seg.words, {
      clock: d.clock,
      disk: dev.disk,
      timeline: dev.timeline,
      memory: processMemory(p),
      unit,
      timerFloorMs: d.config.diskTimerFloorMs,
      spinDue: d.config.spinUs > 0,
      interrupt: (offset) => void d.signals.signalSegment(seg, offset),
    });
    dev.attach(seg, rings);
    d.services.attach(dev.role, p, dev);
    return seg.id;
  }
}
