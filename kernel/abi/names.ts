/**
 * The segment name service's memory layouts (000 §4), shared by the kernel and the
 * name clerk (servers/names/). Two pieces of memory:
 *
 * The channel: a segment the kernel shares with its node's clerk. The kernel posts
 * ADDNAME / LOOKUPNAME / DELETENAME requests into request slots and signals the
 * slot; the clerk answers in place and signals back (local memory and signals only,
 * 000 §4.1). The clerk posts INVALIDATE notices to the kernel the same way, in the
 * notice slots.
 *
 * The registry: the clerk's well-known exported segment, an open-addressed hash table
 * of the names exported on its node. Every clerk uses the same hash, so a name is
 * usually at the same slot everywhere and a remote lookup is one remote READ (§4.2).
 */

import { Rights } from "./layout.ts";

// ---------------------------------------------------------------------------
// Channel

export const CHANNEL_SLOTS = 16;
export const NOTICE_SLOTS = 16;
export const CHANNEL_SLOT_BYTES = 128;
export const NOTICE_OFFSET = CHANNEL_SLOTS * CHANNEL_SLOT_BYTES;
export const CHANNEL_BYTES = NOTICE_OFFSET + NOTICE_SLOTS * CHANNEL_SLOT_BYTES;

/** Byte offsets inside a channel slot. */
export const Slot = {
  STATE: 0,
  OP: 4,
  STATUS: 8,
  NODE: 12,
  EXPORT: 16,
  GEN_HI: 20,
  GEN_LO: 24,
  RIGHTS: 28,
  SIZE: 32,
  HINT: 36,
  FLAGS: 40,
  NAME_LEN: 44,
  NAME: 48,
} as const;

export const SlotState = { FREE: 0, REQUEST: 1, DONE: 2 } as const;
export const NameOp = { ADD: 1, LOOKUP: 2, DELETE: 3, PURGE_NODE: 4, INVALIDATE: 5 } as const;
export const LookupFlag = {
  /** Skip the local table and cache: read the hinted node's registry. */
  FORCE_REMOTE: 1,
  /**
   * Ask the hinted node's clerk instead of reading its registry: a remote WRITE with
   * notification into its mailbox, answered by a remote WRITE back (000 §4.3,
   * "LOOKUP with notification"; implies FORCE_REMOTE).
   */
  BY_NOTIFY: 2,
} as const;
/** No hint node. */
export const NO_HINT = -1;

// ---------------------------------------------------------------------------
// Registry

export const REGISTRY_ENTRIES = 4096;
export const ENTRY_BYTES = 64;
export const REGISTRY_BYTES = REGISTRY_ENTRIES * ENTRY_BYTES;
export const MAX_NAME_BYTES = 32;

/** Byte offsets inside a registry entry. */
export const Entry = {
  STATE: 0,
  NODE: 4,
  EXPORT: 8,
  GEN_HI: 12,
  GEN_LO: 16,
  RIGHTS: 20,
  SIZE: 24,
  NAME_LEN: 28,
  NAME: 32,
} as const;

export const EntryState = { EMPTY: 0, VALID: 1, DELETED: 2 } as const;

/** Well-known export ids, the same on every node (000 §4.2: the bootstrap). */
export const WellKnown = {
  /** The name clerk's registry (readable by all; writable by no one remote). */
  REGISTRY: 1,
  /** The kernel's heartbeat counter, read by peers to detect failure (§3.7). */
  HEARTBEAT: 2,
  /** The name clerk's mailbox for lookups with notification (writable by clerks). */
  MAILBOX: 3,
} as const;

// ---------------------------------------------------------------------------
// Mailbox: one 128-byte slot per node id. A clerk asking node B writes its request
// into slot[me] of B's mailbox (with the notify bit); B answers into slot[B] of the
// asker's mailbox, reply half, with a plain remote WRITE.

export const MAILBOX_NODES = 64;
export const MAILBOX_SLOT_BYTES = 128;
export const MAILBOX_BYTES = MAILBOX_NODES * MAILBOX_SLOT_BYTES;
/** Request half of a mailbox slot (written by the asking clerk). */
export const Ask = { STATE: 0, NAME_LEN: 4, NAME: 8, NONCE: 40 } as const;
/**
 * Reply half of a mailbox slot (written by the answering clerk in one remote WRITE;
 * STATE is the last word, so the asker spinning on it sees the rest complete).
 */
export const Answer = {
  STATUS: 64,
  NODE: 68,
  EXPORT: 72,
  GEN_HI: 76,
  GEN_LO: 80,
  RIGHTS: 84,
  SIZE: 88,
  /** The ask's nonce, echoed: an answer to an older ask is never taken for this one. */
  NONCE: 92,
  STATE: 96,
} as const;
export const ANSWER_BYTES = 36;
export const FIRST_EXPORT_ID = 16;
/** The heartbeat export: one page whose first word the kernel increments. */
export const HEARTBEAT_BYTES = 4096;

/** FNV-1a over the name's bytes: the one hash every clerk uses. */
export function nameHash(name: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of name) h = Math.imul(h ^ b, 0x01000193);
  return (h >>> 0) % REGISTRY_ENTRIES;
}

// ---------------------------------------------------------------------------
// The well-known exports

/** What an importer of a well-known export gets, and who may import it. */
export interface WellKnownExport {
  readonly name: string;
  readonly rights: number;
  readonly size: number;
  /** Non-zero: node n may write only slot n, of this many bytes (a clerk's mailbox). */
  readonly slotBytes: number;
  /** Null: any process may import it; else only the holder of this kernel service. */
  readonly importer: string | null;
}

/**
 * The one table of well-known exports (000 §4.2, the bootstrap): the kernel
 * registers them under these names and rights, `import_wellknown` hands out
 * descriptors from it, and the owner checks every access against its export again.
 */
export const WELL_KNOWN_EXPORTS: Readonly<Record<number, WellKnownExport>> = {
  [WellKnown.REGISTRY]: {
    name: "names.registry",
    rights: Rights.READ,
    size: REGISTRY_BYTES,
    slotBytes: 0,
    importer: null,
  },
  [WellKnown.HEARTBEAT]: {
    name: "kernel.heartbeat",
    rights: Rights.READ,
    size: HEARTBEAT_BYTES,
    slotBytes: 0,
    importer: null,
  },
  [WellKnown.MAILBOX]: {
    name: "names.mailbox",
    rights: Rights.READ | Rights.WRITE,
    size: MAILBOX_BYTES,
    slotBytes: MAILBOX_SLOT_BYTES,
    importer: "names",
  },
};
