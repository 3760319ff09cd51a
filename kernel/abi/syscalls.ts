/**
 * The system-call table: the one source of truth for the trap ABI. The kernel's
 * dispatch (kernel/trap/dispatch.ts) looks handlers up by `name`, the userland stubs
 * (userland/lib/sys/) trap with `no`, and the README's API table is this list.
 *
 * Arguments travel in the trap page's argument words as 32-bit integers; strings and
 * records travel in the data area (`data`: what the call reads from it and/or writes
 * back). Each argument has a kind that the dispatcher validates before the handler
 * runs, so garbage in a trap request yields EINVAL and never reaches a handler
 * (seL4's decode/perform split).
 */

/** Kinds of argument word, checked by the dispatcher. */
export type ArgKind =
  | "u32" // any 32-bit unsigned value
  | "i32" // any 32-bit signed value
  | "vaddr" // a user virtual address (not in the reserved signal region unless the call allows it)
  | "len" // a byte length, 0 < len ≤ MAX_SEGMENT_BYTES
  | "pid" // a process id, > 0
  | "wpid" // a process id, or -1 for "any child"
  | "rights" // a rights mask, non-zero, within RIGHTS_ALL
  | "mode" // SegMode
  | "unit" // SegUnit
  | "policy" // NotifyPolicy
  | "signo" // 1..MAX_SIGNO
  | "timeout" // milliseconds, or -1 for "forever"
  | "fd" // 1 (console out) or 2 (console error)
  | "info"; // an InfoKind

export type DataUse = "none" | "in" | "out" | "inout";

export interface SyscallSpec {
  readonly no: number;
  readonly name: string;
  readonly args: readonly ArgKind[];
  readonly data: DataUse;
  readonly doc: string;
}

/** What `info` can report; the answer is JSON in the data area, fetched in chunks. */
export const InfoKind = {
  PS: 0,
  SEGS: 1,
  STATS: 2,
  SELF: 3,
  NODES: 4,
  EXPORTS: 5,
  DESCRIPTORS: 6,
} as const;

/** The names `info()` takes in userland, one per InfoKind. */
export const INFO_KIND_NAMES = {
  ps: InfoKind.PS,
  segs: InfoKind.SEGS,
  stats: InfoKind.STATS,
  self: InfoKind.SELF,
  nodes: InfoKind.NODES,
  exports: InfoKind.EXPORTS,
  descriptors: InfoKind.DESCRIPTORS,
} as const;

/** What `console_read` says in RESULT2 of a piece of input. */
export const ConsoleRead = {
  /** A whole line (or its last piece). */
  LINE: 0,
  /** End of input: nothing was read, and every later read says so too. */
  EOF: 1,
  /** A piece of a line longer than the data area: more of it follows. */
  MORE: 2,
  /** A control key (RESULT is its ConsoleKey code); only to a read that takes keys. */
  KEY: 3,
} as const;

/** What a `console_read` takes (its flags argument; 0 is a plain line read). */
export const ConsoleReadFlag = {
  /** Control keys too, in the order they were typed among the lines. */
  KEYS: 1,
  /** Only control keys (implies KEYS): lines stay queued for other reads. */
  ONLY_KEYS: 2,
  /** A signal the kernel queues for the caller ends the read with EINTR. */
  INTERRUPTIBLE: 4,
} as const;
export const CONSOLE_READ_FLAGS_ALL = 7;

/**
 * Control keys the console hands out as input of their own (the host's line
 * discipline, kernel/host/line_discipline.ts, passes each as a one-character piece).
 */
export const ConsoleKey = {
  /** Ctrl-C: the shell sends SIGINT to its foreground job. */
  INTERRUPT: 0x03,
  /** Ctrl-L: the shell clears the screen. */
  CLEAR: 0x0c,
  /** Ctrl-Z: the shell leaves its foreground job running in the background. */
  BACKGROUND: 0x1a,
} as const;

/** The ConsoleKey whose character `piece` is, or 0 (a line). */
export function consoleKeyOf(piece: string): number {
  if (piece.length !== 1) return 0;
  const code = piece.charCodeAt(0);
  return Object.values(ConsoleKey).includes(code as never) ? code : 0;
}

/** What a `spawn` request may carry besides its module and arguments. */
export interface SpawnRequestOptions {
  share?: { segment: number; rights: number }[];
  caps?: number;
  reserve?: string[];
  label?: boolean;
}

/**
 * The JSON request `spawn` reads from the data area (kernel/syscalls/sys_proc.ts
 * parses it); it must fit in DATA_BYTES of UTF-8 (E2BIG otherwise, in userland).
 */
export function spawnRequest(module: string, args: string[], o: SpawnRequestOptions = {}): string {
  return JSON.stringify({
    module,
    args,
    share: o.share ?? [],
    caps: o.caps ?? 0,
    reserve: o.reserve ?? [],
    label: o.label ?? false,
  });
}

const TABLE = [
  { no: 0, name: "null", args: [], data: "none", doc: "Does nothing; the cost of a trap." },
  {
    no: 1,
    name: "exit",
    args: ["i32"],
    data: "in",
    doc: "Ends the calling process with a status (0–255); the data area may carry a reason.",
  },
  {
    no: 2,
    name: "spawn",
    args: [],
    data: "in",
    doc:
      "Starts a process from a JSON {module, args, share, caps, reserve} request; returns its pid.",
  },
  {
    no: 3,
    name: "wait",
    args: ["wpid", "timeout"],
    data: "out",
    doc: "Reaps an exited child (or any, with -1); returns its pid, status and reason.",
  },
  {
    no: 4,
    name: "kill",
    args: ["pid", "signo"],
    data: "none",
    doc: "Sends a Unix-style signal: delivered at its well-known address or default action.",
  },
  { no: 5, name: "getpid", args: [], data: "none", doc: "Returns the pid; RESULT2 is the ppid." },
  {
    no: 6,
    name: "print",
    args: ["fd", "u32"],
    data: "in",
    doc: "Writes UTF-8 text from the data area to the console through the kernel; " +
      "with arg 2 = 1 more of the same text follows, and the kernel holds it until the last piece.",
  },
  {
    no: 7,
    name: "console_read",
    args: ["u32"],
    data: "out",
    doc: "Blocks until console input (ConsoleReadFlag: keys, only keys, interruptible) arrives; " +
      "RESULT2 is a ConsoleRead.",
  },
  {
    no: 8,
    name: "create_segment",
    args: ["len", "mode", "unit", "policy"],
    data: "none",
    doc: "CreateSegment(size, mode, unit, notifyPolicy); returns a segment id.",
  },
  {
    no: 9,
    name: "bind",
    args: ["u32", "u32", "rights"],
    data: "none",
    doc: "Maps a segment at a page-aligned vaddr (0 = kernel chooses); returns the vaddr.",
  },
  { no: 10, name: "unbind", args: ["vaddr"], data: "none", doc: "Unmaps the binding at vaddr." },
  {
    no: 11,
    name: "release",
    args: ["u32"],
    data: "none",
    doc: "Drops the caller's right to a segment and its bindings of it.",
  },
  {
    no: 12,
    name: "grant",
    args: ["u32", "pid", "rights"],
    data: "none",
    doc: "Lets another process bind a segment the caller holds, with at most its rights.",
  },
  {
    no: 13,
    name: "protect",
    args: ["vaddr", "len", "u32"],
    data: "none",
    doc: "Changes the rights of mapped pages (READ, or READ|WRITE within the binding).",
  },
  {
    no: 14,
    name: "page_fault",
    args: ["u32", "u32"],
    data: "none",
    doc: "Raised by the MMU on a TLB miss that the page table cannot satisfy.",
  },
  {
    no: 15,
    name: "signal_handler",
    args: ["u32", "u32", "u32"],
    data: "none",
    doc: "SignalHandler(vaddr, size, handler id); id 0 removes the handlers on that range.",
  },
  {
    no: 16,
    name: "signal",
    args: ["vaddr"],
    data: "none",
    doc: "Signal(vaddr): delivers to every handler on that location; returns how many.",
  },
  {
    no: 17,
    name: "info",
    args: ["info", "u32"],
    data: "out",
    doc: "Reads kernel tables as JSON from a byte offset; RESULT2 is the total length.",
  },
  // --- Remote memory (000 §3.1) -------------------------------------------------
  {
    no: 18,
    name: "export",
    args: ["u32", "rights"],
    data: "in",
    doc: "Exports a held segment by name (JSON {name, nodes?, pids?}); returns the export id.",
  },
  {
    no: 19,
    name: "import",
    args: ["i32", "u32"],
    data: "in",
    doc: "Imports a name (hint node or -1, flags); returns a descriptor, RESULT2 its size.",
  },
  {
    no: 20,
    name: "revoke",
    args: [],
    data: "in",
    doc: "Revokes the caller's export of a name: its generation dies everywhere.",
  },
  {
    no: 21,
    name: "remote_write",
    args: ["u32", "u32", "u32", "u32"],
    data: "none",
    doc:
      "WRITE(rd, off, count, notify) from the message registers (≤ 40 bytes); returns its sequence.",
  },
  {
    no: 22,
    name: "remote_write_block",
    args: ["u32", "u32", "u32", "len", "u32"],
    data: "none",
    doc: "WRITE(rd, off, count, notify) of a block read from a local virtual address.",
  },
  {
    no: 23,
    name: "remote_read",
    args: ["u32", "u32", "len", "u32", "u32", "u32"],
    data: "none",
    doc: "READ(rs, soff, count, rd, doff, notify) into a local segment; returns its sequence.",
  },
  {
    no: 24,
    name: "remote_cas",
    args: ["u32", "u32", "u32", "u32", "u32", "u32"],
    data: "none",
    doc: "CAS(rd, doff, rs, soff, old, new): deposits 1 (swapped) or 0 at (rs, soff).",
  },
  {
    no: 25,
    name: "remote_status",
    args: [],
    data: "none",
    doc: "Returns and clears the sticky error completions: count; RESULT2 the last code.",
  },
  { no: 26, name: "pin", args: ["vaddr", "len"], data: "none", doc: "Pins pages resident." },
  { no: 27, name: "unpin", args: ["vaddr", "len"], data: "none", doc: "Unpins pages." },
  {
    no: 28,
    name: "write_inhibit",
    args: ["u32", "u32"],
    data: "none",
    doc: "Turns write inhibit on (1) or off (0) for one of the caller's exports.",
  },
  {
    no: 29,
    name: "import_wellknown",
    args: ["u32", "u32"],
    data: "none",
    doc: "A descriptor for a well-known export of a node (the name service's bootstrap).",
  },
  {
    no: 30,
    name: "clerk_attach",
    args: ["u32", "u32"],
    data: "none",
    doc: "Makes the caller its node's name clerk: exports its registry and mailbox " +
      "segments under their well-known ids; returns the channel segment's id.",
  },
  // --- Memory-based messaging (001 §3) ----------------------------------------
  {
    no: 31,
    name: "unit_complete",
    args: ["u32", "u32"],
    data: "none",
    doc: "A store completed the message unit at vaddr: signal (1) and/or send (2) it; " +
      "returns the receivers signalled.",
  },
  {
    no: 32,
    name: "attach",
    args: ["u32"],
    data: "none",
    doc: "Makes an imported message segment bindable here (a replica when it lives on " +
      "another node); returns a segment id the caller holds.",
  },
  // --- Tripwires and the event queue (002 §3.3, §3.5) ---------------------------
  {
    no: 33,
    name: "tripwire_arm",
    args: ["u32", "u32", "u32", "len", "u32"],
    data: "none",
    doc: "Arms Tripwire id on [where+offset, +len) for flags (READ|WRITE, OUTGOING: where " +
      "is a descriptor, else a local address; EVENT); clears its fired bit.",
  },
  {
    no: 34,
    name: "tripwire_disarm",
    args: ["u32"],
    data: "none",
    doc: "Disarms Tripwire id; returns 1 if it was armed.",
  },
  {
    no: 35,
    name: "dma_flush",
    args: [],
    data: "none",
    doc: "Makes the caller's DMA queue (002 §3.4) if it has none and hands it over; takes " +
      "every request in it; returns how many this call took (not those taken before).",
  },
  {
    no: 36,
    name: "event_signal",
    args: ["u32", "u32", "u32"],
    data: "none",
    doc: "Registers (tag > 0) or unregisters (tag 0) interest in signals at [vaddr, +len): " +
      "each becomes a SIGNAL event instead of a handler call.",
  },
  {
    no: 37,
    name: "descriptor_close",
    args: ["u32"],
    data: "none",
    doc: "Closes one of the caller's descriptors (import, import_wellknown); its id is never " +
      "reused, and using it again fails with EBADF. A process's descriptors close when it exits.",
  },
  // --- Devices (ARCHITECTURE Wave 2; kernel/abi/disk.ts) ------------------------
  {
    no: 38,
    name: "disk_attach",
    args: ["u32"],
    data: "none",
    doc: "Makes the caller the driver of disk n (service capability; one driver at a time, " +
      "until it exits): returns the id of the device segment only it may bind.",
  },
  // --- External pagers (ARCHITECTURE Wave 2; kernel/memory/pager_table.ts) ------
  {
    no: 39,
    name: "set_pager",
    args: ["u32"],
    data: "none",
    doc: "Makes the caller the pager of a NORMAL segment it holds: a fault on a page not " +
      "present waits and becomes a PAGE_FAULT event in the caller's queue.",
  },
  {
    no: 40,
    name: "pager_answer",
    args: ["u32", "u32", "u32", "u32"],
    data: "none",
    doc: "Answers a page request (segment, page, PagerOp, vaddr): SUPPLY copies a page " +
      "from the caller's vaddr, ZERO zero-fills, FAIL fails the fault; TAKE copies an " +
      "evicted page's contents to vaddr.",
  },
  {
    no: 41,
    name: "pager_protect",
    args: ["u32", "u32", "u32", "u32"],
    data: "none",
    doc: "Write-protects (on 1) or unprotects (on 0) pages [page, page+count) of a segment " +
      "the caller pages, in every binding; a store to a protected page is a PAGE_FAULT " +
      "to the pager, and unprotecting completes it.",
  },
  {
    no: 42,
    name: "swap_attach",
    args: [],
    data: "none",
    doc: "Makes the caller the node's swap pager (service capability; one at a time): the " +
      "anonymous segments the node swaps are evicted to it (PAGE_OUT) and paged back from it.",
  },
  {
    no: 43,
    name: "set_swap",
    args: ["u32", "u32"],
    data: "none",
    doc: "Lets (on 1) or keeps (on 0) the node's swap pager from paging out a segment the " +
      "caller holds, whatever the node's default (--swap-scope).",
  },
  {
    no: 44,
    name: "pager_locate",
    args: ["u32", "u32", "i32", "u32"],
    data: "none",
    doc: "Tells the kernel where a copy of a page the caller pages lies in remote memory " +
      "(segment, page, descriptor, offset; descriptor -1 forgets it): its next fault is a " +
      "READ the kernel makes itself, with no request to the pager, until the page is paged " +
      "out again. A READ that fails becomes an ordinary request to the pager.",
  },
  {
    no: 45,
    name: "pager_drop",
    args: ["u32", "u32", "u32"],
    data: "none",
    doc: "Drops pages [page, page+count) of a segment the caller pages: each present one " +
      "becomes not present in every binding and its contents are discarded, not paged " +
      "out, so its next touch is a fault to the pager. Returns how many were present.",
  },
] as const satisfies readonly SyscallSpec[];

export type SyscallName = (typeof TABLE)[number]["name"];

export const SYSCALLS: readonly SyscallSpec[] = TABLE;

/** System-call numbers by name, for the userland stubs. */
export const Sys = Object.fromEntries(TABLE.map((s) => [s.name, s.no])) as {
  readonly [K in SyscallName]: number;
};

/** Looks up a system call by number; undefined for a number never assigned. */
export function syscallByNumber(no: number): SyscallSpec | undefined {
  return no >= 0 && no < BY_NUMBER.length ? BY_NUMBER[no] : undefined;
}
const BY_NUMBER: (SyscallSpec | undefined)[] = [];
for (const s of TABLE) BY_NUMBER[s.no] = s;
