/**
 * `deno task boot`: boots one node on the terminal and starts init, which runs the
 * shell (or, with `--run PROGRAM [ARGS]`, that one program, exiting with its status).
 *
 *   deno task boot [--trace traps,signals,faults] [--block-only] [--spin-us N]
 *                  [--run PROGRAM [ARGS...]]
 */

import { parseArgs } from "node:util";
import { Kernel } from "../kernel.ts";
import { parseTraceKinds } from "../trace.ts";
import { TerminalConsole } from "./console.ts";
import { WorkerHost } from "./worker_host.ts";

const USAGE = "usage: deno task boot [--trace traps,signals,faults] [--block-only] " +
  "[--spin-us N] [--run PROGRAM [ARGS...]]";

function fatal(message: string): never {
  console.error(`boot: ${message}\n${USAGE}`);
  Deno.exit(2);
}

/** Splits argv at --run: everything after the program belongs to it. */
function splitRun(argv: string[]): { own: string[]; run: string[] | null } {
  const i = argv.indexOf("--run");
  if (i < 0) return { own: argv, run: null };
  const run = argv.slice(i + 1);
  if (run.length === 0) fatal("--run needs a program");
  return { own: argv.slice(0, i), run };
}

const { own, run } = splitRun(Deno.args);
let values;
try {
  ({ values } = parseArgs({
    args: own,
    options: {
      trace: { type: "string", default: "" },
      "block-only": { type: "boolean", default: false },
      "spin-us": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (e) {
  fatal(e instanceof Error ? e.message : String(e));
}
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
let trace;
try {
  trace = parseTraceKinds(values.trace ?? "");
} catch (e) {
  fatal((e as Error).message);
}
const spinUs = values["spin-us"] === undefined ? undefined : Number(values["spin-us"]);
if (spinUs !== undefined && !(Number.isFinite(spinUs) && spinUs >= 0)) {
  fatal(`--spin-us must be a number of microseconds ≥ 0, not "${values["spin-us"]}"`);
}

const blockOnly = values["block-only"];
const kernel = new Kernel(new WorkerHost(), new TerminalConsole(), {
  trace,
  ...(blockOnly ? { spinUs: 0, processSpin: 0 } : {}),
  ...(spinUs !== undefined ? { spinUs } : {}),
});

const init = kernel.spawn("userland/programs/init.ts", run ? ["--run", ...run] : []);
const status = await init.exited;
kernel.halt();
if (status.status !== 0 && !run) console.error(`init: ${status.reason}`);
Deno.exit(status.status);
