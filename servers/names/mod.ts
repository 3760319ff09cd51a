/**
 * The segment name server's clerk (000 §4): one per node, started by init.
 *
 * It keeps the node's registry, an open-addressed hash table of the names exported
 * here, in a segment the kernel exports under a well-known id, so that every other
 * clerk can read it remotely. The kernel posts ADDNAME / LOOKUPNAME / DELETENAME
 * into the channel it shares with the clerk and signals; the clerk answers in place
 * and signals back (local memory and signals only).
 *
 * A lookup that misses locally reads the hinted node's registry at the name's hash
 * slot with one remote READ, probing further slots with more READs on a collision
 * (§4.2: "keep probing different hash location using remote reads"). There is no
 * cross-node control transfer on the lookup path. Names found remotely are cached;
 * every `refreshMs` the clerk re-reads each cached slot and purges entries that are
 * gone, telling the kernel so that descriptors for them fail locally (§4.1).
 *
 *   servers/names/mod.ts [REFRESH_MS]
 */

import {
  awaitRemote,
  bind,
  clerkAttach,
  CreateSegment,
  Errno,
  importWellKnown,
  load32,
  nodeId,
  NotifyPolicy,
  READ,
  read,
  remoteCounters,
  SegMode,
  SegUnit,
  Signal,
  SignalHandler,
  SigWait,
  store32,
  SysError,
  write,
  writeBlock,
} from "../../userland/lib/mod.ts";
import {
  Answer,
  ANSWER_BYTES,
  Ask,
  CHANNEL_SLOT_BYTES,
  CHANNEL_SLOTS,
  Entry,
  ENTRY_BYTES,
  EntryState,
  LookupFlag,
  MAILBOX_BYTES,
  MAILBOX_SLOT_BYTES,
  nameHash,
  NameOp,
  NOTICE_OFFSET,
  NOTICE_SLOTS,
  REGISTRY_BYTES,
  REGISTRY_ENTRIES,
  Slot,
  SlotState,
  WellKnown,
} from "../../userland/lib/sys/names.ts";

/** What a registry entry or a channel request says about a name. */
interface Record {
  node: number;
  exportId: number;
  genHi: number;
  genLo: number;
  rights: number;
  size: number;
}

interface Cached extends Record {
  /** The registry slot it was found at, re-read by the refresh. */
  index: number;
}

/** Longer than the kernel's own request timeout: a late completion is never mistaken. */
const REMOTE_TIMEOUT_MS = 6_000;
const encoder = new TextEncoder();

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

class Clerk {
  readonly me = nodeId();
  readonly registry: number;
  readonly channel: number;
  readonly buffer: number;
  readonly bufferSegment: number;
  readonly requests: number[] = [];
  readonly cache = new Map<string, Cached>();
  readonly registries = new Map<number, number>(); // node → descriptor of its registry
  readonly mailboxes = new Map<number, number>(); // node → descriptor of its mailbox
  readonly mailbox: number;
  readonly asks: number[] = [];

  constructor() {
    const registrySegment = CreateSegment(REGISTRY_BYTES);
    this.registry = bind(registrySegment);
    const mailboxSegment = CreateSegment(
      MAILBOX_BYTES,
      SegMode.NORMAL,
      SegUnit.CACHE_LINE,
      NotifyPolicy.CONDITIONAL,
    );
    this.mailbox = bind(mailboxSegment);
    this.channel = bind(clerkAttach(registrySegment, mailboxSegment));
    this.bufferSegment = CreateSegment(4096);
    this.buffer = bind(this.bufferSegment);
    // A notifying write into our mailbox is another clerk asking (000 §4.3).
    SignalHandler(this.mailbox, MAILBOX_BYTES, (at) => this.asks.push(at));
    // Requests are queued by the handler and served in the main loop, where the
    // clerk may wait for remote READs (handlers never wait).
    SignalHandler(this.channel, CHANNEL_SLOTS * CHANNEL_SLOT_BYTES, (at) => this.requests.push(at));
  }

  // --- the channel ---------------------------------------------------------

  /**
   * Queues every request slot the kernel has filled. A signal can be lost (one sent
   * before our handler existed, or dropped by a full FIFO), never a request: the slot
   * keeps it, and this sweep runs at start and after every wait.
   */
  sweep(): void {
    for (let i = 0; i < CHANNEL_SLOTS; i++) {
      const slot = this.channel + i * CHANNEL_SLOT_BYTES;
      if (load32(slot + Slot.STATE) === SlotState.REQUEST) this.requests.push(slot);
    }
  }

  serve(at: number): void {
    const slot = at - ((at - this.channel) % CHANNEL_SLOT_BYTES);
    if (load32(slot + Slot.STATE) !== SlotState.REQUEST) return;
    const op = load32(slot + Slot.OP);
    const name = read(slot + Slot.NAME, Math.min(32, load32(slot + Slot.NAME_LEN)));
    let status = 0;
    let answer: Record | null = null;
    try {
      if (op === NameOp.ADD) this.add(name, readRecord(slot, Slot));
      else if (op === NameOp.DELETE) this.remove(name);
      else if (op === NameOp.LOOKUP) {
        answer = this.lookup(name, load32(slot + Slot.HINT) | 0, load32(slot + Slot.FLAGS));
      } else if (op === NameOp.PURGE_NODE) this.purgeNode(load32(slot + Slot.NODE));
      else status = Errno.EINVAL;
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      status = e.errno;
    }
    if (answer) writeRecord(slot, Slot, answer);
    store32(slot + Slot.STATUS, status);
    store32(slot + Slot.STATE, SlotState.DONE);
    Signal(slot);
  }

  /** Tells the kernel that a name it may have handed out is dead. */
  notice(dead: Record): void {
    for (let i = 0; i < NOTICE_SLOTS; i++) {
      const slot = this.channel + NOTICE_OFFSET + i * CHANNEL_SLOT_BYTES;
      if (load32(slot + Slot.STATE) !== SlotState.FREE) continue;
      store32(slot + Slot.OP, NameOp.INVALIDATE);
      writeRecord(slot, Slot, dead);
      store32(slot + Slot.STATE, SlotState.REQUEST);
      Signal(slot);
      return;
    }
  }

  // --- the registry (this node's exports) ----------------------------------

  entry(index: number): number {
    return this.registry + index * ENTRY_BYTES;
  }

  /** Finds `name` in the local registry: its index, or -1. */
  findLocal(name: Uint8Array): number {
    const h = nameHash(name);
    for (let i = 0; i < REGISTRY_ENTRIES; i++) {
      const e = this.entry((h + i) % REGISTRY_ENTRIES);
      const state = load32(e + Entry.STATE);
      if (state === EntryState.EMPTY) return -1;
      if (state === EntryState.VALID && sameBytes(entryName(e), name)) {
        return (h + i) % REGISTRY_ENTRIES;
      }
    }
    return -1;
  }

  add(name: Uint8Array, r: Record): void {
    const existing = this.findLocal(name);
    let index = existing;
    if (index < 0) {
      const h = nameHash(name);
      for (let i = 0; i < REGISTRY_ENTRIES && index < 0; i++) {
        const at = (h + i) % REGISTRY_ENTRIES;
        if (load32(this.entry(at) + Entry.STATE) !== EntryState.VALID) index = at;
      }
    }
    if (index < 0) throw new SysError(Errno.ENOSPC, "ADDNAME", "the registry is full");
    const e = this.entry(index);
    store32(e + Entry.STATE, EntryState.DELETED); // invisible while it is rewritten
    writeRecord(e, Entry, r);
    store32(e + Entry.NAME_LEN, name.length);
    write(e + Entry.NAME, name);
    store32(e + Entry.STATE, EntryState.VALID);
  }

  remove(name: Uint8Array): void {
    let index = this.findLocal(name);
    if (index < 0) throw new SysError(Errno.ENOENT, "DELETENAME");
    store32(this.entry(index) + Entry.STATE, EntryState.DELETED); // keeps probe chains
    // A tombstone that ends its chain (the next slot is empty) is not needed: empty
    // it, and the tombstones before it, so deletions do not lengthen later probes.
    const state = (i: number) => load32(this.entry((i + REGISTRY_ENTRIES) % REGISTRY_ENTRIES));
    while (state(index) === EntryState.DELETED && state(index + 1) === EntryState.EMPTY) {
      store32(
        this.entry((index + REGISTRY_ENTRIES) % REGISTRY_ENTRIES) + Entry.STATE,
        EntryState.EMPTY,
      );
      index--;
    }
  }

  // --- lookups ---------------------------------------------------------------

  lookup(name: Uint8Array, hint: number, flags: number): Record {
    const text = new TextDecoder().decode(name);
    if (!(flags & LookupFlag.FORCE_REMOTE)) {
      const local = this.findLocal(name);
      if (local >= 0) return readRecord(this.entry(local), Entry);
      const cached = this.cache.get(text);
      if (cached) return cached;
    }
    if (hint < 0 || hint === this.me || hint >= MAILBOX_BYTES / MAILBOX_SLOT_BYTES) {
      if (flags & LookupFlag.FORCE_REMOTE && hint === this.me) {
        const local = this.findLocal(name);
        if (local >= 0) return readRecord(this.entry(local), Entry);
      }
      throw new SysError(Errno.ENOENT, "LOOKUPNAME");
    }
    if (flags & LookupFlag.BY_NOTIFY) return this.askRemote(hint, name);
    const found = this.remoteLookup(hint, name);
    this.cache.set(text, found);
    return found;
  }

  /** Reads `node`'s registry from the name's hash slot on, one remote READ per probe. */
  remoteLookup(node: number, name: Uint8Array): Cached {
    const h = nameHash(name);
    for (let i = 0; i < REGISTRY_ENTRIES; i++) {
      const index = (h + i) % REGISTRY_ENTRIES;
      const e = this.readRemoteEntry(node, index);
      const state = load32(e + Entry.STATE);
      if (state === EntryState.EMPTY) break;
      if (state === EntryState.VALID && sameBytes(entryName(e), name)) {
        return { ...readRecord(e, Entry), index };
      }
    }
    throw new SysError(Errno.ENOENT, "LOOKUPNAME");
  }

  /** Fetches one registry entry of `node` into the buffer; returns its local address. */
  readRemoteEntry(node: number, index: number): number {
    const desc = this.descriptorFor(this.registries, node, WellKnown.REGISTRY);
    const before = remoteCounters();
    READ(desc, index * ENTRY_BYTES, ENTRY_BYTES, this.bufferSegment, 0);
    awaitRemote(before, REMOTE_TIMEOUT_MS);
    return this.buffer;
  }

  // --- lookups with notification (000 §4.3) --------------------------------

  /** Asks `node`'s clerk to look `name` up: a notifying WRITE, then spin for its answer. */
  askRemote(node: number, name: Uint8Array): Record {
    const theirs = this.descriptorFor(this.mailboxes, node, WellKnown.MAILBOX);
    const reply = this.mailbox + node * MAILBOX_SLOT_BYTES;
    store32(reply + Answer.STATE, 0);
    const ask = this.buffer + 1024;
    const nonce = (Math.random() * 0xffffffff) >>> 0;
    store32(ask + Ask.NONCE, nonce);
    store32(ask + Ask.STATE, 1);
    store32(ask + Ask.NAME_LEN, name.length);
    write(ask + Ask.NAME, name);
    const before = remoteCounters();
    writeBlock(theirs, this.me * MAILBOX_SLOT_BYTES, ask, Ask.NONCE + 4, true);
    awaitRemote(before, REMOTE_TIMEOUT_MS);
    // The answer is written into our memory by their clerk: spin at user level for it.
    const deadline = performance.now() + REMOTE_TIMEOUT_MS;
    const answered = () =>
      load32(reply + Answer.STATE) === 1 && load32(reply + Answer.NONCE) === nonce;
    for (let spins = 0; !answered(); spins++) {
      if (spins < 100_000) continue;
      if (performance.now() > deadline) throw new SysError(Errno.ETIMEDOUT, "LOOKUPNAME");
      SigWait(1);
      // Two clerks asking each other at once must not wait on each other.
      while (this.asks.length) this.answer(this.asks.shift()!);
    }
    const status = load32(reply + Answer.STATUS);
    if (status !== 0) throw new SysError(status, "LOOKUPNAME");
    return readRecord(reply + Answer.NODE - Slot.NODE, Slot);
  }

  /** Answers another clerk's ask; a failure (the asker died, say) costs only the answer. */
  answer(at: number): void {
    try {
      this.#answer(at);
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
    }
  }

  #answer(at: number): void {
    const slot = at - ((at - this.mailbox) % MAILBOX_SLOT_BYTES);
    if (load32(slot + Ask.STATE) !== 1) return;
    store32(slot + Ask.STATE, 0);
    const asker = (slot - this.mailbox) / MAILBOX_SLOT_BYTES;
    const name = read(slot + Ask.NAME, Math.min(32, load32(slot + Ask.NAME_LEN)));
    const out = this.buffer + 2048 - Answer.STATUS; // lay the reply out as in a slot
    const index = this.findLocal(name);
    store32(out + Answer.STATUS, index >= 0 ? 0 : Errno.ENOENT);
    if (index >= 0) {
      writeRecord(out + Answer.NODE - Slot.NODE, Slot, readRecord(this.entry(index), Entry));
    }
    store32(out + Answer.NONCE, load32(slot + Ask.NONCE));
    store32(out + Answer.STATE, 1);
    const theirs = this.descriptorFor(this.mailboxes, asker, WellKnown.MAILBOX);
    const before = remoteCounters();
    writeBlock(
      theirs,
      this.me * MAILBOX_SLOT_BYTES + Answer.STATUS,
      out + Answer.STATUS,
      ANSWER_BYTES,
    );
    awaitRemote(before, REMOTE_TIMEOUT_MS);
  }

  descriptorFor(cache: Map<number, number>, node: number, which: number): number {
    let desc = cache.get(node);
    if (desc === undefined) {
      desc = importWellKnown(node, which);
      cache.set(node, desc);
    }
    return desc;
  }

  purgeNode(node: number): void {
    for (const [name, c] of this.cache) if (c.node === node) this.cache.delete(name);
    this.registries.delete(node);
    this.mailboxes.delete(node);
  }

  /** Re-reads every cached name; purges and reports the dead ones (000 §4.1). */
  refresh(): void {
    for (const [text, c] of this.cache) {
      let alive = false;
      try {
        const e = this.readRemoteEntry(c.node, c.index);
        alive = load32(e + Entry.STATE) === EntryState.VALID &&
          sameBytes(entryName(e), encoder.encode(text)) &&
          load32(e + Entry.GEN_HI) >>> 0 === c.genHi &&
          load32(e + Entry.GEN_LO) >>> 0 === c.genLo;
      } catch (e) {
        if (!(e instanceof SysError)) throw e;
        // Slow or down is not dead: the failure detector decides, and a node that
        // comes back with the same incarnation still has its names.
        if (e.code === "ETIMEDOUT" || e.code === "EHOSTDOWN") continue;
      }
      if (!alive) {
        this.cache.delete(text);
        this.notice(c);
      }
    }
  }
}

function entryName(e: number): Uint8Array {
  return read(e + Entry.NAME, Math.min(32, load32(e + Entry.NAME_LEN)));
}

/** Reads the record fields of a slot or an entry (the two layouts name them alike). */
function readRecord(at: number, f: typeof Slot | typeof Entry): Record {
  return {
    node: load32(at + f.NODE),
    exportId: load32(at + f.EXPORT),
    genHi: load32(at + f.GEN_HI),
    genLo: load32(at + f.GEN_LO),
    rights: load32(at + f.RIGHTS),
    size: load32(at + f.SIZE),
  };
}

function writeRecord(at: number, f: typeof Slot | typeof Entry, r: Record): void {
  store32(at + f.NODE, r.node);
  store32(at + f.EXPORT, r.exportId);
  store32(at + f.GEN_HI, r.genHi);
  store32(at + f.GEN_LO, r.genLo);
  store32(at + f.RIGHTS, r.rights);
  store32(at + f.SIZE, r.size);
}

export default function main(args: string[]): number {
  const refreshMs = Number(args[0] ?? 1_000);
  if (!(refreshMs > 0)) throw new RangeError(`refresh period ${args[0]} is not a positive number`);
  const clerk = new Clerk();
  let nextRefresh = performance.now() + refreshMs;
  for (;;) {
    clerk.sweep();
    while (clerk.asks.length) clerk.answer(clerk.asks.shift()!);
    while (clerk.requests.length) clerk.serve(clerk.requests.shift()!);
    SigWait(Math.max(1, nextRefresh - performance.now()));
    if (performance.now() >= nextRefresh) {
      clerk.refresh();
      nextRefresh = performance.now() + refreshMs;
    }
  }
}
