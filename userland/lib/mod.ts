/**
 * userland/lib: the one runtime every process imports: system calls, the MMU, and
 * address-valued signals, and the transports built on them (RPC, endpoints,
 * distributed queues). Programs and servers use exactly this API.
 *
 * Layers: rt/ is the runtime core (the trap path, the MMU, signals, the process
 * entry), sys/ the system-call stubs on it, ipc/ the transports on those. Each
 * layer imports only the ones below it; this file is the one import for programs.
 *
 * @example
 * ```ts
 * import { allocate, load32, println, store32 } from "../lib/mod.ts";
 *
 * export default function main(args: string[]): number {
 *   const at = allocate(4096); // zero-filled on first touch
 *   store32(at, 42);
 *   println(`hello ${args.join(" ")}: ${load32(at)}`);
 *   return 0;
 * }
 * ```
 */

export {
  Access,
  CACHE_LINE_SIZE,
  Cap,
  EventKind,
  EXIT_KILLED_BASE,
  FAULT_ADDRESS,
  MAX_SIGNO,
  NotifyPolicy,
  PAGE_FAULT_HELD,
  PAGE_FAULT_WP,
  PAGE_SIZE,
  PagerOp,
  Rights,
  RIGHTS_ALL,
  SegMode,
  SegUnit,
  Sig,
  SIGNAL_NAMES,
  signalAddress,
  TripwireFlag,
  unitBytes,
} from "../../kernel/abi/layout.ts";
export { Errno, SysError } from "../../kernel/abi/errors.ts";
export {
  ConsoleKey,
  ConsoleRead,
  ConsoleReadFlag,
  INFO_KIND_NAMES,
  InfoKind,
  Sys,
} from "../../kernel/abi/syscalls.ts";
export { LookupFlag, NO_HINT, WellKnown } from "../../kernel/abi/names.ts";
export {
  allocate,
  attach,
  bind,
  CreateSegment,
  grant,
  onFault,
  protect,
  release,
  type SegmentOptions,
  unbind,
} from "./sys/memory.ts";
export {
  flushTlb,
  load16,
  load32,
  load64,
  load8,
  MemoryFault,
  read,
  store16,
  store32,
  store64,
  store8,
  tlbMisses,
  view,
  view32,
  write,
} from "./rt/mmu.ts";
export {
  args,
  type ConsoleInput,
  exit,
  getpid,
  getppid,
  info,
  kill,
  nullTrap,
  print,
  println,
  readConsole,
  type ReadConsoleOptions,
  readLine,
  spawn,
  type SpawnOptions,
  wait,
  type WaitResult,
} from "./sys/process.ts";
export { awaitChildOrInput, type ForegroundEvent } from "./sys/foreground.ts";
export {
  dropPages,
  failPage,
  locatePage,
  nextPageRequest,
  onPageFault,
  type PageRequest,
  pageRequestOf,
  protectForPager,
  setPager,
  setSwap,
  supplyPage,
  swapAttach,
  takePage,
  zeroPage,
} from "./sys/pager.ts";
export {
  drainSignals,
  type FaultFunction,
  nap,
  removeSignalHandler,
  Signal,
  signalCounters,
  type SignalFunction,
  SignalHandler,
  signalPending,
  SigWait,
} from "./rt/signals.ts";
export { nodeSpins } from "./rt/spin.ts";
export { trap, trapPage, trapReply } from "./rt/trap.ts";
export {
  awaitRemote,
  CAS,
  clerkAttach,
  closeDescriptor,
  type ExportOptions,
  exportSegment,
  type ImportOptions,
  importSegment,
  importWellKnown,
  nodeId,
  pin,
  READ,
  type RemoteCounters,
  remoteCounters,
  remoteStatus,
  revoke,
  unpin,
  WRITE,
  WRITE32,
  writeBlock,
  writeInhibit,
} from "./sys/remote.ts";
export { EXEC_REQUEST_BYTES, execName, startOn } from "./sys/exec.ts";
export { waitForName } from "./sys/names.ts";
export {
  DEFAULT_POOL_MIB,
  memoryName,
  POOL_EXTENT_PAGES,
  POOL_MAGIC,
  POOL_NEXT_OFFSET,
  poolOffset,
  PoolWord,
} from "./sys/memory_pool.ts";
export { diskAttach } from "./sys/disk.ts";
export { type DiskCompletion, DiskDriver, diskError, type SubmitOptions } from "./dev/disk.ts";
export {
  DISK_FAULT_TEXT,
  DiskFault,
  DiskOp,
  DiskReg,
  SECTOR_BYTES,
} from "../../kernel/abi/disk.ts";
export {
  dmaFlush,
  dmaIdle,
  type DmaOptions,
  dmaQueued,
  dmaWrite,
  dmaWrite32,
  dmaWriteBlock,
  POSTED,
} from "./sys/dma.ts";
export {
  allocTripwire,
  armTripwire,
  clearTripwire,
  disarmTripwire,
  eventsDropped,
  eventWaitCounts,
  freeTripwire,
  nextEvent,
  type QueuedEvent,
  signalEvents,
  type TripwireEvent,
  tripwireFired,
  type TripwireTarget,
  unregisterSignalEvents,
  untilTripwire,
  waitEvent,
  waitTripwire,
} from "./sys/tripwire.ts";
export {
  type Procedure,
  RawChannel,
  RPC_MAX_BYTES,
  RPC_MAX_PAYLOAD,
  RPC_SLOT_BYTES,
  RPC_SLOTS,
  type RpcCaller,
  RpcClient,
  RpcKind,
  type RpcOptions,
  RpcServer,
  type RpcStats,
  sequenceAfter,
} from "./ipc/rpc.ts";
export { connectEndpoint, Endpoint, type EndpointHandler, EventServer } from "./ipc/endpoint.ts";
export { QueueReceiver, QueueSender, StreamReceiver, StreamSender } from "./ipc/dqueue.ts";
export * as fs from "./fs/files.ts";
export { type DirEntryInfo, type FileStat, type FsUsage, O } from "./fs/files.ts";
