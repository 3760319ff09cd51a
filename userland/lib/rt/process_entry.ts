/**
 * How every process starts. The host makes each worker's main module a short
 * stub: `import "lockdown.ts"; import { start } from "process_entry.ts";
 * start(() => import("PROGRAM"));`. By then runtime.ts has taken the kernel's boot
 * message (its memory); `start` routes the worker's own `console` through the
 * kernel's console, loads the program, runs its `main(args)` (the default export,
 * or an export named `main`; it may be async) and exits with the status `main`
 * returns (0 for none).
 *
 * An exception that escapes the program's top level as it loads (or an import of
 * it that is refused), its main or a signal handler ends the process with status
 * 134 (128 + SIGABRT) and the error as the reason: "crashed at load: …",
 * "crashed in main: …".
 */

import { clipReason, EXIT_KILLED_BASE, Sig } from "../../../kernel/abi/layout.ts";
import { exit, print } from "../sys/process.ts";
import { routedConsole } from "./lockdown.ts";
import { rt } from "./runtime.ts";
import { setCrashHandler } from "./signals.ts";

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** Ends the process after an uncaught exception (`where`: "in main", "at load"...). */
function crash(where: string, err: unknown): never {
  const text = `crashed ${where}: ${describe(err)}`;
  try {
    print(`pid ${rt().pid}: ${text}\n`, 2);
  } finally {
    exit(EXIT_KILLED_BASE + Sig.SIGABRT, clipReason(text));
  }
}

/** Makes console.log and friends print through the kernel. */
function routeConsole(): void {
  const format = (args: unknown[]) =>
    args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" ") + "\n";
  const out = (...a: unknown[]) => print(format(a), 1);
  const err = (...a: unknown[]) => print(format(a), 2);
  // Every other method (dir, table, trace, assert, count, group, time...) from a
  // console that prints through the kernel too: none may write the host's terminal.
  const routed = routedConsole((text, level) => print(text, level > 1 ? 2 : 1)) ?? {};
  const c = console as unknown as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (typeof c[key] === "function") c[key] = routed[key] ?? (() => {});
  }
  Object.assign(console, { log: out, info: out, debug: out, warn: err, error: err });
}

/**
 * Makes the worker's own ways out (self.close, Deno.exit) go through the kernel, so
 * a process never vanishes without its parent hearing of it.
 */
function routeExits(): void {
  const g = globalThis as unknown as { close: () => void };
  g.close = () => exit(0, "exited by closing its worker");
  Object.defineProperty(Deno, "exit", {
    value: (code = 0) => exit(code & 0xff, `exited with status ${code & 0xff}`),
  });
}

/** Loads a program module, runs its main and exits with its status. */
export async function start(load: () => Promise<Record<string, unknown>>): Promise<never> {
  const r = rt();
  setCrashHandler(crash);
  routeConsole();
  routeExits();
  self.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    crash("in a promise", e.reason);
  });
  self.addEventListener("error", (e) => {
    e.preventDefault();
    crash("in the program", e.error ?? e.message);
  });
  // The program is a dynamic import, so none of its code, its top level included,
  // runs while Deno still evaluates the worker's main module (the stub): a worker
  // that ends itself (endWorker) then would keep that module graph's memory, about
  // 0.4 MB per process (issue 11, hole 4).
  let program: Record<string, unknown>;
  try {
    program = await load();
  } catch (err) {
    crash("at load", err);
  }
  const main = program.default ?? program.main;
  if (typeof main !== "function") {
    print(`pid ${r.pid}: ${r.module} exports no main function\n`, 2);
    exit(127, "not a program: no main function");
  }
  let status: unknown;
  try {
    status = await main([...r.args]);
  } catch (err) {
    crash("in main", err);
  }
  exit(typeof status === "number" ? status : 0);
}
