/**
 * `deno task boot`: boots a cluster of nodes in this process (two by default) joined
 * by the emulated network. Every node runs init, which starts its name clerk; on
 * node 0 init also runs the shell on the terminal (or, with `--run PROGRAM [ARGS]`,
 * that one program, and the boot exits with its status). Ctrl-C interrupts the
 * foreground program (the shell, or init with --run, sends it SIGINT); a second
 * Ctrl-C within a second ends the emulator with status 130.
 *
 *   deno task boot [--nodes N] [--trace traps,signals,faults,remote] [--block-only]
 *                  [--spin-us N] [--disk PATH[:SIZE]]... [--disk-model ssd|1994]
 *                  [--memory-mib N] [--swap [PATH[:SIZE]]] [--swap-scope all|opt-in]
 *                  [--memory-server NODE] [--files-path dx|hy] [--run PROGRAM [ARGS...]]
 *
 * The disks `--disk` names are node 0's; the first holds the file system the file
 * server mounts at / for every node (servers/files/: `deno task mkfs IMAGE SIZE`
 * makes one; a disk with none stays a raw disk), and every node runs a file clerk,
 * which reads the server by DX, or by HY alone with `--files-path hy`. `--swap` gives every node a swap disk of
 * its own (temporary files, or PATH for node 0 and PATH.k for node k) and the swap
 * pager; `--memory-server NODE` runs the memory server there, which the other
 * nodes' swap pagers page to first (`--memory-mib` is the other nodes': the memory
 * server's node keeps its default frames, as it lends them).
 */

import { Sig } from "../abi/layout.ts";
import { Cluster } from "../cluster.ts";
import {
  closeSwap,
  endOnSecondInterrupt,
  initArgs,
  kernelConfig,
  openDisks,
  openSwap,
  parseOptions,
  runCli,
  splitRun,
  UsageError,
} from "./cli.ts";
import { TerminalConsole } from "./console.ts";
import { WorkerHost } from "./worker_host.ts";

const USAGE = "usage: deno task boot [--nodes N] [--trace traps,signals,faults,remote] " +
  "[--block-only] [--spin-us N] [--disk PATH[:SIZE]]... [--disk-model ssd|1994] " +
  "[--memory-mib N] [--swap [PATH[:SIZE]]] [--swap-scope all|opt-in] [--memory-server NODE] " +
  "[--files-path dx|hy] [--run PROGRAM [ARGS...]]";
const INIT = "userland/programs/init.ts";
/** How long the processes have to end after SIGTERM when the boot ends (ms). */
const GRACE_MS = 3_000;

/**
 * Ends the cluster as an OS shuts down: every process gets SIGTERM and up to
 * GRACE_MS to end (the file server unmounts: a checkpoint, the file system marked
 * clean), then the nodes halt.
 */
async function shutdown(cluster: Cluster): Promise<void> {
  const ends: Promise<unknown>[] = [];
  for (const k of cluster.nodes) {
    for (const p of [...k.procs.values()]) {
      k.signalProcess(p, Sig.SIGTERM, 0);
      ends.push(p.exited);
    }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise((r) => timer = setTimeout(r, GRACE_MS));
  await Promise.race([Promise.all(ends), grace]);
  clearTimeout(timer);
  cluster.halt();
}

await runCli("boot", USAGE, async () => {
  const { own, run } = splitRun(Deno.args);
  const values = parseOptions(own, { nodes: { type: "string", default: "2" } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 64) {
    throw new UsageError(`--nodes must be a whole number from 1 to 64, not "${values.nodes}"`);
  }
  const disks = await openDisks(values);
  const terminal = new TerminalConsole();
  const config = { ...kernelConfig(values), fileServerNode: disks.length > 0 ? 0 : -1 };
  // The memory server's node exports its memory: --memory-mib is the other nodes'.
  const perNode = (id: number) => id === config.memoryServerNode ? { memoryFrames: 0 } : {};
  const cluster = new Cluster(new WorkerHost(), terminal, { nodes, config, perNode });
  // The first disk holds the file system the file server mounts at / (servers/files/).
  disks.forEach((d, i) => cluster.nodes[0].disks.add(d, { files: i === 0 }));
  const swaps = [];
  for (let id = 0; id < nodes; id++) {
    const s = await openSwap(values, id);
    if (s) cluster.nodes[id].disks.add(s.disk, { swap: true });
    swaps.push(s);
  }
  // Ctrl-C goes to the foreground program; a second one within a second ends it all.
  endOnSecondInterrupt("boot", terminal, () => cluster.halt());
  for (let id = 1; id < nodes; id++) cluster.nodes[id].spawn(INIT, initArgs(null, true));
  const init = cluster.nodes[0].spawn(INIT, initArgs(run, false));
  const status = await init.exited;
  await shutdown(cluster);
  terminal.restore();
  for (const d of disks) await d.close();
  for (const s of swaps) await closeSwap(s);
  if (status.status !== 0 && !run) console.error(`init: ${status.reason}`);
  return status.status;
});
