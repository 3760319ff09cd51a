/**
 * The parts a node is built from, as the system-call handlers see them. Each part
 * owns its state; kernel.ts builds them and wires them together, and nothing
 * reaches into another part's maps. In order of the layers:
 *
 *   tracer, stats       trace lines and warnings; the counts of `info stats`
 *   procs               the process table: spawn, exit, wait (proc/process_table.ts)
 *   segments            the segment table: create, grant, free (memory/segment_table.ts),
 *                       and the page frames (memory/frame_table.ts)
 *   pagers              external pagers: page requests and answers (memory/pager_table.ts)
 *   signals             signal delivery and directories (signal/signal_delivery.ts)
 *   traps               trap entry and trap waits (trap/trap_entry.ts, trap_wait.ts)
 *   services            well-known services and their holders (proc/service_registry.ts)
 *   nameService         the kernel's use of the name clerk (remote/name_service.ts)
 *   input               the console's input (dev/console_input.ts)
 *   disks               the node's disks and their drivers (dev/disk_table.ts)
 *   nic                 the network interface (net/nic.ts)
 *   exports, remote, channels, tripwires, detector
 *                       the remote-memory co-processor and what it serves (remote/)
 */

import type { KernelConfig } from "./config.ts";
import type { ConsoleInput } from "./dev/console_input.ts";
import type { DiskTable } from "./dev/disk_table.ts";
import type { Clock, Console } from "./host_interface.ts";
import type { PagerTable } from "./memory/pager_table.ts";
import type { SegmentTable } from "./memory/segment_table.ts";
import type { NetworkInterface } from "./net/nic.ts";
import type { NodeStats } from "./node_stats.ts";
import type { ProcessTable } from "./proc/process_table.ts";
import type { ServiceRegistry } from "./proc/service_registry.ts";
import type { Export, ExportTable } from "./remote/export_table.ts";
import type { FailureDetector } from "./remote/failure_detector.ts";
import type { MessageChannels } from "./remote/message_channels.ts";
import type { NameService } from "./remote/name_service.ts";
import type { RemoteMemory } from "./remote/remote_memory.ts";
import type { TripwireTable } from "./remote/tripwires.ts";
import type { SignalDelivery } from "./signal/signal_delivery.ts";
import type { Tracer } from "./trace.ts";
import type { TrapEntry } from "./trap/trap_entry.ts";
import type { TrapService } from "./trap/trap_service.ts";

export interface NodeParts {
  readonly nodeId: number;
  readonly config: KernelConfig;
  readonly clock: Clock;
  readonly console: Console;
  readonly tracer: Tracer;
  readonly stats: NodeStats;
  readonly procs: ProcessTable;
  readonly segments: SegmentTable;
  readonly pagers: PagerTable;
  readonly signals: SignalDelivery;
  readonly traps: TrapEntry;
  readonly trapService: TrapService;
  readonly services: ServiceRegistry;
  readonly nameService: NameService;
  readonly input: ConsoleInput;
  readonly disks: DiskTable;
  readonly nic: NetworkInterface;
  readonly exports: ExportTable;
  readonly remote: RemoteMemory;
  readonly channels: MessageChannels;
  readonly tripwires: TripwireTable;
  readonly detector: FailureDetector;
  /** True if `node` has been detected down, or the network has no route to it. */
  nodeDown(node: number): boolean;
  /**
   * Ends an export: the owner answers ESTALE from now on and its members are
   * dropped; with `tellClerk`, the name clerk is asked to delete the name.
   */
  removeExport(e: Export, tellClerk?: boolean): void;
}
