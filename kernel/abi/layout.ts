/**
 * Bit layouts and memory layouts shared by the kernel and the userland runtime:
 * the trap page, the signal FIFO page, the kernel doorbell, page-table entries,
 * rights bits, segment attributes and the well-known signal addresses.
 *
 * Everything a process and its kernel both read lives here, so the two sides can
 * never disagree about an offset.
 */

// ---------------------------------------------------------------------------
// Virtual memory

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT; // 4 KiB
export const PAGE_MASK = PAGE_SIZE - 1;
/** Two-level page tables: 10 bits of directory index, 10 bits of table index. */
export const PT_LEVEL_BITS = 10;
export const PT_ENTRIES = 1 << PT_LEVEL_BITS;
/** Each level-2 entry is two 32-bit words: [flags | pageIndex << 12, slot]. */
export const PTE_WORDS = 2;
/** Byte size of the directory (1024 words) and of one level-2 table (1024 × 2 words). */
export const PT_DIR_BYTES = PT_ENTRIES * 4;
export const PT_TABLE_BYTES = PT_ENTRIES * PTE_WORDS * 4;
/** Largest page-table area: the directory plus all 1024 level-2 tables. */
export const PT_MAX_BYTES = PT_DIR_BYTES + PT_ENTRIES * PT_TABLE_BYTES;

/**
 * Page-table entry bits (word 0 of a level-2 entry). The kernel writes P, W, M, S and
 * the view bits; the process's MMU sets A on a TLB fill and D on the first store.
 */
export const Pte = {
  PRESENT: 1 << 0,
  WRITABLE: 1 << 1,
  ACCESSED: 1 << 2,
  DIRTY: 1 << 3,
  /** The page is in message-consistency mode (001 §3.2). */
  MESSAGE: 1 << 4,
  /** A store to the last byte of a unit signals (automatic signal-on-write, 001 §3.3). */
  SIGNAL_ON_WRITE: 1 << 5,
  /** Mether view bits (issue 6). */
  VIEW0: 1 << 6,
  VIEW1: 1 << 7,
  /** With MESSAGE: the unit is the whole page, not the 32-byte line. */
  UNIT_PAGE: 1 << 8,
} as const;
export const PTE_FLAGS_MASK = PAGE_MASK;

/** The lowest address a segment may be bound at: page 0 is never mapped. */
export const USER_BASE = 0x0000_1000;
/** Where the kernel places bindings when the process lets it choose. */
export const USER_AUTO_BASE = 0x1000_0000;
/**
 * The top 64 KiB of the address space is reserved for well-known signal addresses
 * (001 §3.1, footnote 4: Unix signals as a designated set of addresses). Nothing can
 * be bound there.
 */
export const SIGNAL_REGION = 0xffff_0000;
export const USER_TOP = SIGNAL_REGION; // exclusive

/** Unix-style signal numbers, each at a well-known address `SIGNAL_REGION + 4·signo`. */
export const Sig = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGTERM: 15,
  SIGCHLD: 17,
} as const;
export const SIGNAL_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Sig).map(([name, n]) => [n, name]),
);
export const MAX_SIGNO = 63;

/** Returns the well-known address at which signal `signo` is delivered. */
export function signalAddress(signo: number): number {
  return SIGNAL_REGION + signo * 4;
}
/** The address at which protection faults are delivered to a handler. */
export const FAULT_ADDRESS = SIGNAL_REGION + Sig.SIGSEGV * 4;

// ---------------------------------------------------------------------------
// Capabilities

/**
 * What a process may do beyond an ordinary program, fixed when it is spawned and
 * never inherited by its children. Only the host (which starts init) and init
 * (pid 1) may spawn a process with any (`spawn`'s `caps`): a program cannot mint
 * one, and an orphan re-parented to init gets none.
 */
export const Cap = {
  /**
   * May attach as one of the node's kernel services (the name clerk's
   * `clerk_attach`; later file clerks and pagers): init hands it to the servers it
   * starts from servers/table.ts.
   */
  SERVICE: 1,
  /**
   * Acts for the user at the console: may signal (and so kill) any process but init.
   * init hands it to the shell it starts on the console, and to nothing else.
   */
  USER: 2,
} as const;
export const CAPS_ALL = Cap.SERVICE | Cap.USER;

// ---------------------------------------------------------------------------
// Rights, segment attributes

/** Rights on a binding (and, later, on an exported segment). */
export const Rights = { READ: 1, WRITE: 2, CAS: 4 } as const;
export const RIGHTS_ALL = Rights.READ | Rights.WRITE | Rights.CAS;

/**
 * Consistency mode (001 §3.2–3.3). `MESSAGE`: message-oriented consistency with
 * automatic signal-on-write: a store that writes the last byte of a unit completes
 * it, publishing it to readers (and to every other node that binds the segment) and
 * signalling every handler on it. `MESSAGE_QUIET`: the same consistency, no signal.
 */
export const SegMode = { NORMAL: 0, MESSAGE: 1, MESSAGE_QUIET: 2 } as const;
/**
 * The unit of message consistency and of signalling (001 §3.2): a 32-byte cache
 * line, or a 4 KiB page (a segment that signals on page ends only).
 */
export const SegUnit = { CACHE_LINE: 0, PAGE: 1 } as const;
export const CACHE_LINE_SIZE = 32;
/** The size in bytes of a message unit. */
export function unitBytes(unit: number): number {
  return unit === SegUnit.PAGE ? PAGE_SIZE : CACHE_LINE_SIZE;
}
/** What `unit_complete` asks of the kernel (the software half of signal-on-write). */
export const UnitDone = {
  /** Signal the unit's handlers on this node (the software path, or a full directory). */
  SIGNAL: 1,
  /** Send the unit to every other node that binds the segment. */
  SEND: 2,
} as const;
/** Notify policy for remote writes (000 §3.1.1). */
export const NotifyPolicy = { ALWAYS: 0, NEVER: 1, CONDITIONAL: 2 } as const;

/** Largest single segment, and the default physical memory of a node. */
export const MAX_SEGMENT_BYTES = 256 * 1024 * 1024;

/** Access kinds, as reported in fault records and traces. */
export const Access = { READ: 1, WRITE: 2 } as const;
export function accessName(access: number): string {
  return access === Access.WRITE ? "write" : "read";
}

// ---------------------------------------------------------------------------
// The trap page: one per process, shared with its kernel (Int32 word indices).

export const TRAP_PAGE_BYTES = PAGE_SIZE;
export const Trap = {
  /** The request state; see `TrapState`. Written by both sides with atomics. */
  STATE: 0,
  SYSNO: 1,
  /** Eight argument words, ARG0..ARG7. */
  ARG0: 2,
  RESULT: 10,
  ERRNO: 11,
  /** A second result word (e.g. the status of `wait`). */
  RESULT2: 12,
  /** Bytes used in the data area, in both directions. */
  DATA_LEN: 13,
  /** Bumped by the kernel whenever this process's mappings lose rights or vanish. */
  TLB_EPOCH: 14,
  /** Number of memory grants the kernel has posted on the process's memory port. */
  GRANTS: 15,
  /** Fault record of the last protection fault delivered to a handler. */
  FAULT_VADDR: 16,
  FAULT_ACCESS: 17,
  /** How many spin iterations the process makes before it blocks (0 = block only). */
  SPIN: 18,
  /** The node's SignalPath. */
  SIGNAL_PATH: 19,
  /** This process's node id. */
  NODE: 20,
  /**
   * Remote-memory completions (000 §3.1.1 meta-instructions are non-blocking):
   * requests completed, and error completions with the last error code and the
   * descriptor it came from. The error words are sticky until `remote_status`.
   */
  REMOTE_DONE: 21,
  REMOTE_ERRORS: 22,
  REMOTE_ERRNO: 23,
  REMOTE_ERR_DESC: 24,
  /**
   * 1 while the trap service serving this process sleeps: a request then rings the
   * doorbell. Written by the kernel into every process's own page, so no process
   * can hold down the word another's traps read (a shared one could be held at 0).
   */
  KERNEL_SLEEPING: 25,
  /**
   * The TLB_EPOCH this process last flushed its TLB to, stored by its MMU (Atomics,
   * so every store it made through the old entries is visible to a kernel that
   * reads it): the acknowledgement of a shootdown (kernel/memory/pager_table.ts).
   */
  TLB_SEEN: 26,
  /**
   * 1 while the process sleeps outside a trap (a signal or event wait) and stores
   * nothing through its MMU; its next access reads TLB_EPOCH first.
   */
  TLB_PARKED: 27,
  /**
   * 1 while the kernel holds this process's trap waiting for something slow (a
   * pager process, a disk, a timer, another process): the process then sleeps at
   * once rather than spin for it (userland/lib/rt/trap.ts awaitCompletion). A wait
   * the kernel itself ends soon (a page it READs from remote memory) leaves it 0.
   */
  KERNEL_HOLDS: 28,
} as const;
export const TRAP_ARGS = 8;
/** Message registers: the small-WRITE data area (000 §3.1.1), 40 bytes. */
export const MREGS_OFFSET = 128;
export const MREGS_BYTES = 40;
/** The data area carries strings and small records in and out of a trap. */
export const DATA_OFFSET = 256;
export const DATA_BYTES = TRAP_PAGE_BYTES - DATA_OFFSET;

export const TrapState = {
  IDLE: 0,
  /** Request written; the process is spinning on STATE. */
  PENDING: 1,
  /** Request written; the process sleeps in Atomics.wait and needs a notify. */
  SLEEPING: 2,
  /** The kernel has written RESULT/ERRNO. */
  DONE: 3,
  /**
   * The process has ended (exited or killed); set by the kernel, never left. The
   * runtime stops its worker on seeing it: at its next trap, memory access or wait.
   */
  ENDED: 4,
} as const;

// ---------------------------------------------------------------------------
// The kernel doorbell: one per node, shared by all its processes.

export const Doorbell = {
  /**
   * Incremented by a process after it posts a request while the kernel sleeps
   * (Trap.KERNEL_SLEEPING). A process that scribbles on it only wakes the kernel.
   */
  SEQ: 0,
} as const;
export const DOORBELL_BYTES = 16;

// ---------------------------------------------------------------------------
// The signal FIFO page (001 §3.1.2: a per-processor FIFO of addresses that drops
// when full). Many producers (the kernel, and on the hardware path the senders'
// memory systems), one consumer (the process). kernel/signal/fifo_ring.ts has the
// algorithm both sides run.

export const Fifo = {
  // The consumer's words: a 64-byte cache line of their own.
  /** Next entry the process will consume; written only by the process. */
  HEAD: 0,
  /** Signals handled; written only by the process. */
  HANDLED: 1,
  // Written rarely, read by every producer after a post: a line of its own.
  /** Non-zero while the process may be blocked on TAIL: producers then notify. */
  WAITING: 16,
  // The producers' words.
  /** Next entry a producer will reserve; producers advance it with compareExchange. */
  TAIL: 32,
  /** Signals dropped because the FIFO was full; producers add to it. */
  DROPPED: 33,
  /** Signals posted so far, for LOSS_EVERY. */
  POSTS: 34,
  /** The last HEAD a producer read (fifo_ring.ts): producers read HEAD only when full. */
  HEAD_SEEN: 35,
  // Set once (PRODUCER_DEATHS: when a producer dies), read by everyone.
  CAPACITY: 48,
  /**
   * Fault injection (KernelConfig.signalLossEvery): when n > 0, every n-th signal
   * posted to this FIFO is dropped and counted, as a lossy FIFO would (001 §4).
   */
  LOSS_EVERY: 49,
  /** Producers of this FIFO that died (the kernel counts them; see fifo_ring.ts). */
  PRODUCER_DEATHS: 50,
  /** Start of the cells: ENTRY_WORDS words each, [sequence, a, b, 0]. */
  ENTRIES: 64,
} as const;
export const FIFO_ENTRY_WORDS = 4;
export const DEFAULT_FIFO_CAPACITY = 128;
export function fifoBytes(capacity: number): number {
  return (Fifo.ENTRIES + capacity * FIFO_ENTRY_WORDS) * 4;
}

/**
 * The signal path, chosen at boot. `hardware`: Signal is posted by the sender's
 * emulated memory system straight into the receivers' FIFOs as a physical address
 * (segment, offset), and only the receiver translates it (001 §3.1.2). `software`:
 * the sender traps and the kernel translates and queues (the paper's software-only
 * implementation).
 */
export const SignalPath = { HARDWARE: 0, SOFTWARE: 1 } as const;

// ---------------------------------------------------------------------------
// The signal directory of a segment (001 §3.1.2, the cache directory's P bits):
// which processes have handlers on which offsets. Kept by the kernel under a
// seqlock (VERSION odd while it writes); read by senders on the hardware path.

export const Directory = {
  VERSION: 0,
  /** Entries in use, or -1 when they did not fit: senders then trap (software path). */
  COUNT: 1,
  /**
   * Non-zero while the segment is bound on another node too: a completed message
   * unit must then be handed to the kernel to travel (`unit_complete` with SEND).
   */
  NETWORK: 2,
  /** Entries of three words: [pid, first offset, end offset). */
  ENTRIES: 4,
} as const;
export const DIRECTORY_MAX_ENTRIES = 256;
export const DIRECTORY_BYTES = (Directory.ENTRIES + DIRECTORY_MAX_ENTRIES * 3) * 4;

// ---------------------------------------------------------------------------
// The event page (002 §3.3, §3.5): one per process that uses Tripwires, shared with
// its kernel. A bitmap with one bit per Tripwire, set when it fires (a process tests
// it without a trap, and may clear it), and the asynchronous event queue: a ring
// the kernel alone produces into and the process alone consumes.

/** Tripwire ids per process: 0 .. MAX_TRIPWIRES-1. */
export const MAX_TRIPWIRES = 4096;
export const EventPage = {
  /** Next event the process will take; written only by the process. */
  HEAD: 0,
  /** Non-zero while the process may be blocked on TAIL: the kernel then notifies. */
  WAITING: 16,
  /** Next event the kernel will write. */
  TAIL: 32,
  /** Events dropped because the queue was full. */
  DROPPED: 33,
  /** Word i holds the fired bits of Tripwires 32i .. 32i+31. */
  BITMAP: 64,
  /** Start of the entries: EVENT_WORDS words each, [sequence, kind, id, info]. */
  ENTRIES: 64 + MAX_TRIPWIRES / 32,
} as const;
export const EVENT_WORDS = 4;
export const EVENT_CAPACITY = 1024;
export const EVENT_PAGE_BYTES = (EventPage.ENTRIES + EVENT_CAPACITY * EVENT_WORDS) * 4;
/** What an event reports. */
export const EventKind = {
  /** A Tripwire fired: id is the Tripwire, info the access (Access.READ or WRITE). */
  TRIPWIRE: 1,
  /** A DMA request asking for one completed: id is its tag, info 0 or the error code. */
  COMPLETION: 2,
  /**
   * A signal arrived at an address registered with `event_signal`: id is the
   * registration's tag, info the signalled (virtual) address.
   */
  SIGNAL: 3,
  /**
   * A page a pager pages is wanted (kernel/memory/pager_table.ts): id is the segment,
   * info `pageRequestInfo(page, access, writeProtect, held)`.
   */
  PAGE_FAULT: 4,
  /** A dirty page was evicted: id is the segment, info the page; `PagerOp.TAKE` fetches it. */
  PAGE_OUT: 5,
  /** A segment this pager paged was freed: id is the segment; its pages may be forgotten. */
  SEGMENT_FREED: 6,
} as const;

/** How a pager answers a request (`pager_answer`). */
export const PagerOp = {
  /** Copy PAGE_SIZE bytes from the pager's own memory at vaddr into the page. */
  SUPPLY: 1,
  /** The page is zeros. */
  ZERO: 2,
  /** Fail the fault: the faulting process gets a protection fault. */
  FAIL: 3,
  /** Copy an evicted dirty page's contents (a PAGE_OUT) to the pager's vaddr. */
  TAKE: 4,
} as const;

/** The bit of a PAGE_FAULT's info saying it is a store to a write-protected page. */
export const PAGE_FAULT_WP = 4;
/**
 * The bit of a PAGE_FAULT event's info that says the kernel still holds the page's
 * newest contents, evicted dirty and not yet taken: the pager must TAKE it (its own
 * copy, if any, is older).
 */
export const PAGE_FAULT_HELD = 8;

/**
 * A page_fault trap's RESULT when the faulting process pages the segment itself
 * (its own pager, as a userfaultfd's SIGBUS mode has the faulting thread resolve
 * the fault): RESULT is `segment << 2 | PAGE_FAULT_OWN` and RESULT2 the request's
 * `pageRequestInfo`; the process answers it (`onPageFault`) and touches again.
 * Otherwise RESULT is 0, or 1 if the page was zero-filled.
 */
export const PAGE_FAULT_OWN = 2;

/** A PAGE_FAULT event's info: the page in the high bits, then the HELD and WP bits, the access. */
export function pageRequestInfo(
  page: number,
  access: number,
  writeProtect: boolean,
  held = false,
): number {
  return (page << 4) | (held ? PAGE_FAULT_HELD : 0) | (writeProtect ? PAGE_FAULT_WP : 0) | access;
}

// ---------------------------------------------------------------------------
// The DMA queue (002 §3.4): a ring of remote-write requests in memory a process
// shares with its kernel. The process fills entries and advances TAIL; the kernel
// takes them asynchronously (its trap service polls every queue while it is awake,
// round-robin, a bounded batch per queue per pass) and advances HEAD. No trap per
// request: a process traps (`dma_flush`) only to make its queue and when it is full.

export const DmaQueue = {
  /** Next entry the process will fill; written only by the process. */
  TAIL: 0,
  /** Next entry the kernel will take; written only by the kernel. */
  HEAD: 16,
  /** Start of the entries: DMA_ENTRY_WORDS words each. */
  ENTRIES: 32,
} as const;
export const DMA_ENTRY_WORDS = 16;
export const DMA_CAPACITY = 256;
export const DMA_QUEUE_BYTES = (DmaQueue.ENTRIES + DMA_CAPACITY * DMA_ENTRY_WORDS) * 4;
/** The words of one entry. */
export const DmaEntry = {
  /** DmaOp, or'ed with DmaFlag. */
  OP: 0,
  DESC: 1,
  /** Where in the remote segment the bytes go. */
  OFFSET: 2,
  COUNT: 3,
  /** WRITE_BLOCK: the local address the bytes are taken from (when the kernel takes the entry). */
  VADDR: 4,
  /** Non-zero: a COMPLETION event with this id goes into the event queue when it completes. */
  TAG: 5,
  /** WRITE: the bytes themselves, up to DMA_INLINE_BYTES. */
  DATA: 6,
} as const;
export const DMA_INLINE_BYTES = (DMA_ENTRY_WORDS - DmaEntry.DATA) * 4;
/** The most one WRITE_BLOCK moves (one frame's payload). */
export const DMA_MAX_BLOCK = 64 * 1024;
export const DmaOp = {
  /** A WRITE of the entry's own bytes (PIO: the data was stored into the queue). */
  WRITE: 1,
  /** A WRITE of COUNT bytes of local memory at VADDR (DMA). */
  WRITE_BLOCK: 2,
} as const;
export const DmaFlag = {
  /** The WRITE notifies at the owner (as `notify` on remote_write). */
  NOTIFY: 0x100,
  /**
   * A posted WRITE (a PIO store): no completion, so no tag; nothing comes back
   * unless the owner refuses it, which is counted as an error completion.
   */
  POSTED: 0x200,
} as const;
/** Tripwire flags (tripwire_arm). */
export const TripwireFlag = {
  /** Fire on reads. */
  READ: 1,
  /** Fire on writes. */
  WRITE: 2,
  /** Watch this node's outgoing accesses to a remote segment (where = descriptor). */
  OUTGOING: 4,
  /** Also deliver an event into the process's event queue each time it fires. */
  EVENT: 8,
} as const;

// ---------------------------------------------------------------------------
// Exit statuses (shell convention: 128 + signal number when killed).

export const EXIT_KILLED_BASE = 128;

/** The longest exit reason kept whole; a longer one is clipped, saying by how much. */
export const MAX_REASON = 1000;
/** The most a clipped reason's note (`… (N more characters)`) adds. */
const CLIP_NOTE_MAX = 32;

/**
 * Keeps an exit reason to MAX_REASON characters, saying how many it dropped. The
 * runtime clips what it reports (a crash's message may be longer than the data
 * area) and the kernel clips every reason; a reason the runtime clipped is kept.
 */
export function clipReason(reason: string): string {
  if (reason.length <= MAX_REASON + CLIP_NOTE_MAX && /… \(\d+ more characters\)$/.test(reason)) {
    return reason;
  }
  return reason.length <= MAX_REASON
    ? reason
    : `${reason.slice(0, MAX_REASON)}… (${reason.length - MAX_REASON} more characters)`;
}
