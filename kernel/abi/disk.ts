/**
 * The disk device's ABI (kernel/dev/disk_device.ts): the layout of its device
 * segment, its commands and its completions. The kernel and the driver library
 * (userland/lib/dev/disk.ts) both read this file, so the two sides can never
 * disagree about an offset.
 *
 * The device segment (three pages) is bound only by the disk's driver:
 *
 *   page 0  registers: what the disk is (read-only to the driver, by convention),
 *           the doorbell, and the rings' head and tail words, each on a line of
 *           its own (the kernel writes SQ_HEAD and CQ_TAIL; the driver SQ_TAIL
 *           and CQ_HEAD)
 *   page 1  the submission ring: DISK_SQ_CAPACITY commands of 32 bytes
 *   page 2  the completion ring: DISK_CQ_CAPACITY completions of 32 bytes
 *
 * A driver fills commands at SQ_TAIL, advances it, and signals the doorbell's
 * address (a Signal on the device segment is the store to the doorbell register
 * of a real controller). Each completion the kernel writes at CQ_TAIL is raised as
 * an address-valued signal at that completion's own address (001 §3.1.2: a device
 * interrupt is a signal; 001 §3.1.3: the address locates the message), so one
 * handler on the completion ring finds each entry without a search.
 */

/** "DISK", little-endian, in the MAGIC register. */
export const DISK_MAGIC = 0x4b534944;
export const DISK_VERSION = 1;
/** Offsets and lengths of every command are multiples of this. */
export const SECTOR_BYTES = 512;
/** The most one READ or WRITE moves. */
export const DISK_MAX_TRANSFER = 64 * 1024;
export const DISK_SQ_CAPACITY = 64;
export const DISK_CQ_CAPACITY = 128;

/** Register words (Int32 indices into page 0). */
export const DiskReg = {
  MAGIC: 0,
  VERSION: 1,
  SECTOR_BYTES: 2,
  MAX_TRANSFER: 3,
  /** The disk's size in bytes, as two words (low, high). */
  SIZE_LO: 4,
  SIZE_HI: 5,
  SQ_CAPACITY: 6,
  CQ_CAPACITY: 7,
  /** The timing model (DiskModelId). */
  MODEL: 8,
  /** Which disk of the node this is. */
  UNIT: 9,
  /** Commands taken and not yet completed (kernel). */
  IN_FLIGHT: 10,
  /** Completions posted so far (kernel). */
  COMPLETED: 11,
  /** Rings found scribbled (kernel); each also posts a RING completion when it can. */
  RING_ERRORS: 12,
  /** Completions written over unconsumed ones because CQ_HEAD went backwards (kernel). */
  CQ_OVERRUNS: 13,
  /** The doorbell: Signal this word's address to have the device take new commands. */
  DOORBELL: 16,
  /** Next command the driver will fill (driver). */
  SQ_TAIL: 32,
  /** Next command the device will take (kernel). */
  SQ_HEAD: 48,
  /** Next completion the device will write (kernel). */
  CQ_TAIL: 64,
  /** Next completion the driver will consume (driver). */
  CQ_HEAD: 80,
} as const;

/** Byte offsets in the device segment. */
export const DISK_DOORBELL_OFFSET = DiskReg.DOORBELL * 4;
export const DISK_SQ_OFFSET = 4096;
export const DISK_CQ_OFFSET = 8192;
export const DISK_SEGMENT_BYTES = 12288;
export const DISK_SQE_WORDS = 8;
export const DISK_CQE_WORDS = 8;
/** Bytes of one completion: a cache line, so each has an address of its own. */
export const DISK_CQE_BYTES = DISK_CQE_WORDS * 4;

/** The words of a command (submission queue entry). */
export const DiskSqe = {
  /** DiskOp. */
  OP: 0,
  /** Any 32-bit value; the completion carries it back. */
  TAG: 1,
  /** Byte offset on the disk, as two words (low, high). */
  OFFSET_LO: 2,
  OFFSET_HI: 3,
  /** Bytes to move (READ, WRITE): 1..DISK_MAX_TRANSFER sectors' worth. */
  LENGTH: 4,
  /** The driver's virtual address the bytes come from (WRITE) or go to (READ). */
  VADDR: 5,
} as const;

/** The words of a completion (completion queue entry). */
export const DiskCqe = {
  TAG: 0,
  /** 0, or the error code (Errno). */
  ERRNO: 1,
  /** DiskFault: which check failed, or HOST for the host file's error. */
  REASON: 2,
  /** Bytes moved. */
  BYTES: 3,
  /** The command's OP word, as the device read it. */
  OP: 4,
  /** This completion's number, from 1: COMPLETED when it was posted. */
  SEQ: 5,
} as const;

export const DiskOp = { READ: 1, WRITE: 2, FLUSH: 3 } as const;

/** Why a command failed (DiskCqe.REASON). */
export const DiskFault = {
  NONE: 0,
  /** No such operation (ENOSYS). */
  OP: 1,
  /** A length of 0, over DISK_MAX_TRANSFER, or given to FLUSH (EINVAL). */
  LENGTH: 2,
  /** An offset or length that is not a multiple of SECTOR_BYTES (EINVAL). */
  ALIGN: 3,
  /** Past the end of the disk (EINVAL). */
  RANGE: 4,
  /** The driver's buffer is not mapped with the rights the transfer needs (EFAULT). */
  BUFFER: 5,
  /** A ring word was scribbled: TAIL too far ahead, or CQ_HEAD out of range (EINVAL). */
  RING: 6,
  /** The host file failed (EIO, ENOSPC, EPERM). */
  HOST: 7,
} as const;

/** Words for each DiskFault, for messages. */
export const DISK_FAULT_TEXT: readonly string[] = [
  "",
  "unknown operation",
  "bad length",
  "misaligned",
  "out of range",
  "buffer not mapped",
  "ring scribbled",
  "the host file failed",
];

/** The timing models (DiskReg.MODEL); kernel/dev/disk_model.ts has their figures. */
export const DiskModelId = { SSD: 0, DISK_1994: 1 } as const;
export const DISK_MODEL_NAMES = ["ssd", "1994"] as const;
export type DiskModelName = (typeof DISK_MODEL_NAMES)[number];
