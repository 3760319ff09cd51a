/**
 * A disk of the node (ARCHITECTURE, Wave 2 "Devices"): its image on the host (a
 * `Disk`, kernel/host_interface.ts), its timing model's state, and its current
 * attachment, the device segment and rings its one driver process drives
 * (disk_rings.ts). The disk outlives its drivers: when the driver ends, the
 * service registry detaches it (its rings stop, their completions are dropped,
 * its device segment goes with the process), and the next driver to attach gets
 * fresh rings in a fresh segment; the head stays where the last one left it.
 */

import { DISK_DOORBELL_OFFSET } from "../abi/disk.ts";
import type { Disk } from "../host_interface.ts";
import type { Segment } from "../memory/segment.ts";
import type { Service } from "../proc/service_registry.ts";
import { type DiskModel, DiskTimeline } from "./disk_model.ts";
import type { DiskRings } from "./disk_rings.ts";

export class DiskDevice implements Service {
  /** Which disk of the node (disk_attach's argument). */
  readonly unit: number;
  readonly disk: Disk;
  readonly timeline: DiskTimeline;
  #segment: Segment | null = null;
  #rings: DiskRings | null = null;

  constructor(unit: number, disk: Disk, model: DiskModel) {
    this.unit = unit;
    this.disk = disk;
    this.timeline = new DiskTimeline(model);
  }

  /** The role its driver holds in the service registry. */
  get role(): string {
    return `disk.${this.unit}`;
  }

  /** The current attachment's rings, or null while no driver holds the disk. */
  get rings(): DiskRings | null {
    return this.#rings;
  }

  /** Serves `segment` with `rings`: a Signal at its doorbell takes new commands. */
  attach(segment: Segment, rings: DiskRings): void {
    this.#segment = segment;
    this.#rings = rings;
    segment.kernelHandler = (offset) => {
      if (offset === DISK_DOORBELL_OFFSET) rings.doorbell();
    };
  }

  /** Its driver ended: the rings stop and the doorbell is deaf. */
  detach(): void {
    this.#rings?.stop();
    if (this.#segment) this.#segment.kernelHandler = null;
    this.#segment = null;
    this.#rings = null;
  }
}
