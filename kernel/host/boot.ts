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
 *                  [--memory-mib N] [--run PROGRAM [ARGS...]]
 *
 * The disks `--disk` names are node 0's.
 */

import { Cluster } from "../cluster.ts";
import {
  endOnSecondInterrupt,
  initArgs,
  kernelConfig,
  openDisks,
  parseOptions,
  runCli,
  splitRun,
  UsageError,
} from "./cli.ts";
import { TerminalConsole } from "./console.ts";
import { WorkerHost } from "./worker_host.ts";

const USAGE = "usage: deno task boot [--nodes N] [--trace traps,signals,faults,remote] " +
  "[--block-only] [--spin-us N] [--disk PATH[:SIZE]]... [--disk-model ssd|1994] " +
  "[--memory-mib N] [--run PROGRAM [ARGS...]]";
const INIT = "userland/programs/init.ts";

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
  const cluster = new Cluster(new WorkerHost(), terminal, { nodes, config: kernelConfig(values) });
  for (const d of disks) cluster.nodes[0].disks.add(d);
  // Ctrl-C goes to the foreground program; a second one within a second ends it all.
  endOnSecondInterrupt("boot", terminal, () => cluster.halt());
  for (let id = 1; id < nodes; id++) cluster.nodes[id].spawn(INIT, initArgs(null, true));
  const init = cluster.nodes[0].spawn(INIT, initArgs(run, false));
  const status = await init.exited;
  cluster.halt();
  terminal.restore();
  for (const d of disks) await d.close();
  if (status.status !== 0 && !run) console.error(`init: ${status.reason}`);
  return status.status;
});
