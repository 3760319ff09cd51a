// Suite `paging` (issue 13 item 6): what a page fault costs on each path, beside its
// peers measured in the same run.
//
//   fault-zero, fault-pager-process,         one node with frames to spare
//   copy-4k                                  (tests/bench/programs/paging_local.ts)
//   fault-pager-local, fault-pager-evict     a node with 1,024 frames, a process paging
//                                            segments itself (paging_own.ts): pages it
//                                            dropped, and four times the frames
//   null-trap, signal-roundtrip              the trap suite's programs, for the ratio
//                                            fault-pager-local / (trap + signal RTT)
//   block-read-4k, fault-remote-4k           node 0 with few frames, a swap disk and the
//                                            swap pager, paging to the memory server on
//                                            node 1 (programs/paging_swap.ts)
//   fault-disk-4k, fault-disk-4k-1994        the same with no memory server, on the ssd
//                                            and on the 1994 disk model
//   sweep-2x-*                               memhog over twice the node's frames, with
//                                            each backing, and with frames to spare

import type { DiskModelName } from "../../../kernel/abi/disk.ts";
import type { KernelConfig } from "../../../kernel/config.ts";
import { MemoryConsole } from "../../../kernel/host/console.ts";
import { HostDisk } from "../../../kernel/host/host_disk.ts";
import { WorkerHost } from "../../../kernel/host/worker_host.ts";
import { Kernel } from "../../../kernel/kernel.ts";
import { EmulatedNetwork } from "../../../kernel/net/emulated_network.ts";
import { TrapService } from "../../../kernel/trap/trap_service.ts";
import {
  benchLines,
  type NamedResult,
  runBenchProgram,
  runBenchProgramCases,
} from "../kernel_runner.ts";
import { median } from "../stats.ts";
import type { CaseResult, Suite } from "../suite.ts";
import { mergeResults, roundtripResult } from "./trap.ts";

const INIT = new URL("../../../userland/programs/init.ts", import.meta.url).href;
const SWAP_PROGRAM = new URL("../programs/paging_swap.ts", import.meta.url).href;
const SWAP_BYTES = 64 * 1024 * 1024;
const MIB_PAGES = 256;

/** How a swap cluster's node 0 is set up. */
interface SwapNode {
  /** Node 0's page frames (0: as many as its memory holds). */
  frames: number;
  /** A swap disk on node 0 (and so the swap pager). */
  swap: boolean;
  /** The memory server on node 1 (a second node). */
  memoryServer: boolean;
  model: DiskModelName;
  /** A plain disk (unit 0, no swap) for a driver of the bench's own. */
  plainDisk?: boolean;
}

/** A run of paging_swap: its cases, or why it failed. */
type Run = (args: string[], o?: { tolerate: string[] }) => Promise<NamedResult[]>;

/**
 * Boots the cluster `node` describes (init --serve on every node: the name clerk,
 * the exec server, and by the node's facts the memory server and the swap pager),
 * runs `body` with a function that runs paging_swap on node 0 and returns its cases,
 * and halts it and removes its swap file.
 *
 * Built here rather than with kernel/cluster.ts, whose configuration is every
 * node's: node 0 has few frames, the memory server's node as many as its memory
 * holds (the pool takes a frame for every page written to it).
 */
export async function withSwapCluster<T>(
  node: SwapNode,
  body: (run: Run) => Promise<T>,
): Promise<T> {
  const host = new WorkerHost();
  const console = new MemoryConsole();
  const nodes = node.memoryServer ? 2 : 1;
  const shared: Partial<KernelConfig> = {
    memoryServerNode: node.memoryServer ? 1 : -1,
    diskModel: node.model,
  };
  const trapService = new TrapService(50, host.clock);
  const network = new EmulatedNetwork(host.clock);
  trapService.addPoller(() => network.poll() > 0);
  const kernels: Kernel[] = [];
  for (let id = 0; id < nodes; id++) {
    const config = { ...shared, nodeId: id, ...(id === 0 ? { memoryFrames: node.frames } : {}) };
    const k = new Kernel(host, console, config, trapService);
    const receive = k.nic.attach({
      send: (to, bytes) => network.send(id, to, bytes),
      reachable: (n) => network.attached(n),
      backlog: (n) => network.backlog(id, n),
    });
    network.attach(id, receive);
    kernels.push(k);
  }
  for (const k of kernels) for (const peer of kernels) k.watch(peer.nodeId);
  trapService.start();
  let path: string | null = null, disk: HostDisk | null = null;
  try {
    if (node.swap || node.plainDisk) {
      path = await Deno.makeTempFile({ dir: "/tmp", prefix: "bench-paging-disk-" });
      disk = await HostDisk.open(path, SWAP_BYTES);
      kernels[0].disks.add(disk, { swap: node.swap });
    }
    for (const k of kernels) k.spawn(INIT, ["--serve"]);
    let seen = 0;
    return await body(async (args, o) => {
      const p = kernels[0].spawn(SWAP_PROGRAM, args);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`paging_swap ${args}: no result in 120 s`)),
          120_000,
        );
      });
      try {
        const status = await Promise.race([p.exited, limit]);
        const out = console.out.slice(seen);
        seen = console.out.length;
        if (status.status !== 0 && o) {
          o.tolerate.push(`${args[1]}: ${status.reason}`);
          return [];
        }
        if (status.status !== 0) {
          throw new Error(`paging_swap ${args.join(" ")}: ${status.reason}\n${out}${console.err}`);
        }
        return benchLines(out);
      } finally {
        clearTimeout(timer);
      }
    });
  } finally {
    for (const k of kernels) k.halt();
    network.close();
    trapService.stop();
    await disk?.close();
    if (path) await Deno.remove(path).catch(() => {});
  }
}

/** A program's named result as a case (the fault cases note their evictions per access). */
function toCase(
  r: NamedResult & { evictionsPerAccess?: number; evictions?: number; wrong?: number },
): CaseResult {
  const med = median(r.samples_us);
  const notes = [`${r.batch} per sample`];
  if (r.evictionsPerAccess !== undefined) {
    notes.push(`${r.evictionsPerAccess.toFixed(2)} evictions per access`);
  }
  if (r.evictions !== undefined) notes.push(`${r.evictions} evictions per run`);
  if (r.wrong) notes.push(`${r.wrong} words came back wrong`);
  return {
    name: r.case,
    samples_us: r.samples_us,
    n: r.n,
    ops_per_s: 1e6 / med,
    note: notes.join(", "),
  };
}

/** The frames of fault-pager-local's node (fault-pager-evict pages four times as many). */
const OWN_FRAMES = 1024;
/** Node 0's frames for the ssd and memory-server cases, and the working sets over them. */
const FRAMES = 1024;
const FAULT_PAGES = 2 * FRAMES;
/** The 1994 disk takes ~11 ms a page: a smaller node, so the suite stays short. */
const FRAMES_1994 = 128;
const SWEEP_MIB = (2 * FRAMES) / MIB_PAGES;
const SWEEP_PASSES = 2;

export const paging: Suite = {
  name: "paging",
  description: "page faults: zero-fill, a local pager, the memory server, the disk; sweeps",
  async run(opts) {
    const mode = opts.quick ? "quick" : "full";
    const cases = new Map<string, CaseResult>();
    /** Sweep runs that ended in a failed fault (the swap pager's lost pages). */
    const failed: string[] = [];
    const add = (c: CaseResult) => {
      const prev = cases.get(c.name);
      cases.set(c.name, prev ? mergeResults(prev, c) : c);
    };
    const sweeps = opts.quick ? 1 : 3;
    const faultOps = opts.quick ? "64" : "2400";
    /** Runs paging_swap once with `args` and adds every case it reports. */
    const addRun = async (run: Run, args: string[], o?: { tolerate: string[] }) => {
      for (const r of await run(args, o)) add(toCase(r));
    };
    /** The sweep case `name`, `sweeps` times (a run that fails a fault is noted, not fatal). */
    const sweeping = async (run: Run, name: string, tolerate?: string[]) => {
      const args = ["sweep", name, String(SWEEP_MIB), String(SWEEP_PASSES)];
      for (let i = 0; i < sweeps; i++) await addRun(run, args, tolerate && { tolerate });
    };

    for (const r of await runBenchProgramCases("paging_local", opts)) add(toCase(r));
    const own = { memoryFrames: OWN_FRAMES };
    for (const r of await runBenchProgramCases("paging_own", opts, own)) add(toCase(r));
    add(roundtripResult("null-trap", await runBenchProgram("null_trap", opts)));
    add(roundtripResult("signal-roundtrip", await runBenchProgram("signal_roundtrip", opts)));

    await withSwapCluster(
      { frames: FRAMES, swap: true, memoryServer: true, model: "ssd" },
      async (run) => {
        const faults = [
          "faults",
          mode,
          "fault-remote-4k",
          String(FAULT_PAGES),
          "8",
          faultOps,
          "peer",
        ];
        await addRun(run, faults);
        await sweeping(run, "sweep-2x-memserver", failed);
      },
    );
    await withSwapCluster(
      { frames: FRAMES, swap: true, memoryServer: false, model: "ssd" },
      async (run) => {
        const faults = ["faults", mode, "fault-disk-4k", String(FAULT_PAGES), "8", faultOps];
        await addRun(run, faults);
        await sweeping(run, "sweep-2x-disk", failed);
      },
    );
    await withSwapCluster(
      { frames: FRAMES_1994, swap: true, memoryServer: false, model: "1994" },
      async (run) => {
        const faults = [
          "faults",
          mode,
          "fault-disk-4k-1994",
          String(2 * FRAMES_1994),
          "1",
          opts.quick ? "10" : "150",
        ];
        await addRun(run, faults);
      },
    );
    await withSwapCluster(
      { frames: 0, swap: false, memoryServer: false, model: "ssd", plainDisk: true },
      async (run) => {
        await addRun(run, ["diskread", mode, "disk-read-4k"]);
        await sweeping(run, "sweep-2x-local");
      },
    );

    for (const f of failed) {
      const name = f.slice(0, f.indexOf(":"));
      const c = cases.get(name);
      globalThis.console.error(`bench: paging: a run of ${f}`);
      if (c) c.note = `${c.note}; a run failed: ${f.slice(name.length + 2)}`;
    }
    const order = [
      "fault-zero",
      "fault-pager-local",
      "fault-pager-evict",
      "fault-pager-process",
      "null-trap",
      "signal-roundtrip",
      "fault-remote-4k",
      "block-read-4k",
      "fault-disk-4k",
      "disk-read-4k",
      "fault-disk-4k-1994",
      "sweep-2x-memserver",
      "sweep-2x-disk",
      "sweep-2x-local",
      "copy-4k",
    ];
    return order.filter((n) => cases.has(n)).map((n) => cases.get(n)!);
  },
};
