/**
 * The disk's timing models: when a command the device takes at time `now` is due
 * to complete. The real I/O on the host file runs at once; the completion is
 * posted when both it has finished and the model's time has come, so a model is
 * a floor on a command's latency (disk_rings.ts). Pure arithmetic over a small
 * state (the head's cylinder, when the device is next free), so a test computes
 * the same figures the device does.
 *
 * `ssd` — a current NVMe SSD, the Samsung 990 PRO 2 TB (data sheet, Samsung
 * Electronics, 2022): sequential read up to 7,450 MB/s and write up to 6,900 MB/s;
 * 4 KB random read at queue depth 1 up to 22,000 IOPS and write up to 80,000 IOPS,
 * so a command's own latency is 1/IOPS: 45.5 µs to read, 12.5 µs to write. Flash
 * has no head to move: commands overlap their latencies (its controller works on
 * many at once, queue depth 32 and more), and only the data transfer is serial, at
 * the sequential rate.
 *
 * `1994` — a disk of the papers' era, the HP 97560 (HP's data, as published by
 * Ruemmler and Wilkes, "An introduction to disk drive modeling", IEEE Computer
 * 27(3), March 1994, Table 1): 512-byte sectors, 72 per track, 19 data surfaces,
 * 1,962 cylinders, 4,002 rpm; seek time 3.24 + 0.400·√d ms for a seek of d < 383
 * cylinders and 8.00 + 0.008·d ms beyond; controller overhead 2.2 ms. One
 * actuator: commands are served one at a time in the order they were taken, each
 * paying the overhead, the seek from where the last one left the head, half a
 * revolution on average (7.50 ms) and the media rate (72 × 512 bytes a revolution,
 * 2.46 MB/s). Head switches and track-to-track skew are left out. Its writes are
 * written through, so a FLUSH costs the controller overhead alone.
 *
 * No data sheet gives a flush time for the SSD: the model charges one write
 * latency (its volatile cache must be programmed first; an assumption, not a
 * figure).
 */

import { DiskModelId, type DiskModelName, DiskOp } from "../abi/disk.ts";

/** A model's figures, in milliseconds and bytes per millisecond. */
export interface DiskModel {
  readonly name: DiskModelName;
  readonly id: number;
  /** ms before a command's data can move (the SSD's own latency; the disk's overhead). */
  readonly readLatencyMs: number;
  readonly writeLatencyMs: number;
  readonly flushLatencyMs: number;
  /** bytes per ms. */
  readonly readRate: number;
  readonly writeRate: number;
  /** One command at a time, with a head that seeks (the disk), or overlapping (flash). */
  readonly mechanical: boolean;
  /** Bytes per cylinder, for the seek distance (mechanical only). */
  readonly cylinderBytes: number;
}

const MB_PER_S = 1_000_000 / 1000; // bytes per ms in one MB/s

export const SSD: DiskModel = {
  name: "ssd",
  id: DiskModelId.SSD,
  readLatencyMs: 1000 / 22_000,
  writeLatencyMs: 1000 / 80_000,
  flushLatencyMs: 1000 / 80_000,
  readRate: 7_450 * MB_PER_S,
  writeRate: 6_900 * MB_PER_S,
  mechanical: false,
  cylinderBytes: 0,
};

/** The HP 97560's revolution at 4,002 rpm, in ms. */
export const HP97560_REVOLUTION_MS = 60_000 / 4_002;
const HP97560_TRACK_BYTES = 72 * 512;
const HP97560_OVERHEAD_MS = 2.2;

export const DISK_1994: DiskModel = {
  name: "1994",
  id: DiskModelId.DISK_1994,
  readLatencyMs: HP97560_OVERHEAD_MS + HP97560_REVOLUTION_MS / 2,
  writeLatencyMs: HP97560_OVERHEAD_MS + HP97560_REVOLUTION_MS / 2,
  flushLatencyMs: HP97560_OVERHEAD_MS,
  readRate: HP97560_TRACK_BYTES / HP97560_REVOLUTION_MS,
  writeRate: HP97560_TRACK_BYTES / HP97560_REVOLUTION_MS,
  mechanical: true,
  cylinderBytes: HP97560_TRACK_BYTES * 19,
};

export const DISK_MODELS: Record<DiskModelName, DiskModel> = { ssd: SSD, "1994": DISK_1994 };

/** The HP 97560's seek time for a seek of `d` cylinders, in ms (0 for none). */
export function seekMs(d: number): number {
  if (d === 0) return 0;
  return d < 383 ? 3.24 + 0.4 * Math.sqrt(d) : 8.0 + 0.008 * d;
}

/**
 * When each command of one disk is due: the model applied to the commands in
 * the order the device takes them. Owned by the disk (disk_device.ts), so the
 * head stays where the last driver left it.
 */
export class DiskTimeline {
  readonly model: DiskModel;
  /** When the serial part (the transfer; for the disk, everything) is next free. */
  #freeAt = 0;
  #cylinder = 0;

  constructor(model: DiskModel) {
    this.model = model;
  }

  /** The head's cylinder (mechanical models). */
  get cylinder(): number {
    return this.#cylinder;
  }

  /**
   * The time a command taken at `now` completes: `op` (DiskOp) of `bytes` at
   * byte `offset`. Moves the model's state on, so call it once per command.
   */
  schedule(now: number, op: number, offset: number, bytes: number): number {
    const m = this.model;
    const latency = op === DiskOp.READ
      ? m.readLatencyMs
      : op === DiskOp.WRITE
      ? m.writeLatencyMs
      : m.flushLatencyMs;
    const transfer = op === DiskOp.FLUSH
      ? 0
      : bytes / (op === DiskOp.READ ? m.readRate : m.writeRate);
    let done: number;
    if (m.mechanical) {
      let seek = 0;
      if (op !== DiskOp.FLUSH) {
        const to = Math.floor(offset / m.cylinderBytes);
        seek = seekMs(Math.abs(to - this.#cylinder));
        this.#cylinder = Math.floor((offset + Math.max(bytes - 1, 0)) / m.cylinderBytes);
      }
      done = Math.max(now, this.#freeAt) + latency + seek + transfer;
    } else {
      done = Math.max(now + latency, this.#freeAt) + transfer;
    }
    this.#freeAt = done;
    return done;
  }
}
