/**
 * The host layer's process host: each process is a Deno Worker with
 * `permissions: "none"` (it cannot touch files, network, environment or
 * subprocesses), whose main module is a stub importing the lockdown and the
 * runtime's entry (userland/lib/rt/process_entry.ts), which imports the program.
 *
 * The only messages ever sent to a worker are the kernel's hand-over of memory: the
 * boot message (its trap page, FIFO, page table and doorbell) and, on its memory
 * port, each segment buffer it is entitled to map. The runtime takes those from the
 * port synchronously on return from the bind trap.
 */

import { getHeapStatistics } from "node:v8";
import type { BootMessage } from "../abi/boot.ts";
import { Trap, TrapState } from "../abi/layout.ts";
import type { ProcessHost } from "../host_interface.ts";
import { fail } from "../panic.ts";
import type { ProcessHandle } from "../proc/process.ts";
import { hostClock, hostRandom32 } from "./clock.ts";

const LOCKDOWN = new URL("../../userland/lib/rt/lockdown.ts", import.meta.url).href;
const ENTRY = new URL("../../userland/lib/rt/process_entry.ts", import.meta.url).href;
const ROOT = new URL("../../", import.meta.url);

/** What a program module's name ends with (anything else is a file, not a program). */
const PROGRAM_EXTENSION = /\.(ts|tsx|mts|js|jsx|mjs)$/;

/** Resolves a program given as a path (relative to the cwd or the project) or a short name. */
export function resolveProgram(spec: string): string | null {
  const candidates: URL[] = [];
  if (spec.startsWith("file://")) candidates.push(new URL(spec));
  else if (spec.startsWith("/")) candidates.push(new URL(`file://${spec}`));
  else {
    candidates.push(new URL(spec, `file://${Deno.cwd()}/`), new URL(spec, ROOT));
    if (!spec.includes("/")) {
      const name = spec.endsWith(".ts") ? spec : `${spec}.ts`;
      candidates.push(new URL(`userland/programs/${name}`, ROOT));
    }
  }
  for (const url of candidates) {
    try {
      if (Deno.statSync(url).isFile) return url.href;
    } catch {
      // not there (or not readable by the node): try the next place
    }
  }
  return null;
}

/**
 * How programs are loaded, checked once per host: Node's built-in modules (all but
 * a few pure ones) resolve to a module that refuses, through the import map
 * kernel/host/program_imports.json (`--import-map`), and npm: specifiers are not
 * resolved at all (`--no-npm`). `--no-remote`, `--no-lock` and `--no-prompt` (no
 * module is fetched at run time, no lock file written into the project, no
 * permission prompt on the host's terminal) come with them in the deno.json
 * tasks; Deno offers no way to check those from inside.
 */
export function programLoadingProblem(): string | null {
  const flags = "--import-map=kernel/host/program_imports.json --no-npm --no-remote --no-lock " +
    "--no-prompt (as the deno.json tasks do)";
  if (!import.meta.resolve("node:process").startsWith("data:")) {
    return `node: built-in modules are not confined: run the host with ${flags}`;
  }
  try {
    import.meta.resolve("npm:none");
  } catch {
    return null;
  }
  return `npm: modules can be fetched: run the host with ${flags}`;
}

export interface WorkerHostOptions {
  /**
   * Find each worker's thread, so `cpuUs` can read its CPU time from Linux's
   * /proc/PID/task/TID/schedstat (for benchmarks: Deno lets only a host run with
   * --allow-all read there; elsewhere `cpuUs` is -1).
   */
  threadCpu?: boolean;
}

export class WorkerHost implements ProcessHost {
  readonly clock = hostClock;
  readonly #threadCpu: boolean;

  constructor(opts: WorkerHostOptions = {}) {
    const problem = programLoadingProblem();
    if (problem) throw new Error(`WorkerHost refuses to start processes: ${problem}`);
    this.#threadCpu = opts.threadCpu ?? false;
  }

  random32(): number {
    return hostRandom32();
  }

  resolveModule(spec: string): string | null {
    const url = resolveProgram(spec);
    if (url && !PROGRAM_EXTENSION.test(url)) {
      fail("ENOEXEC", `${spec} is not a program: a program is a .ts or .js module`);
    }
    return url;
  }

  start(boot: BootMessage, onCrash: (message: string) => void): ProcessHandle {
    // The worker's main module: the lockdown and the runtime's entry, which then
    // imports the program (the host's module loader reads it: the worker itself may
    // read no file). A program that fails to load (it throws at its top level, or an
    // import is refused) is caught by the runtime and exits 134 with the reason;
    // a failed main module would also be printed on the host's stderr by Deno.
    const stub = `import ${JSON.stringify(LOCKDOWN)};\n` +
      `import { start } from ${JSON.stringify(ENTRY)};\n` +
      `start(() => import(${JSON.stringify(boot.module)}));\n`;
    const before = this.#threadCpu ? threads() : null;
    const worker = new Worker(`data:application/javascript,${encodeURIComponent(stub)}`, {
      type: "module",
      name: `pid ${boot.pid}`,
      // deno-lint-ignore no-explicit-any
      deno: { permissions: "none" } as any,
    });
    // Deno starts the worker's thread inside the constructor, and the thread names
    // itself worker-N once it runs: of the threads new since, the one so named (when
    // first asked) is the process's.
    const fresh = before ? [...threads()].filter((t) => !before.has(t)) : [];
    let tid: string | null | undefined = fresh.length === 0 ? null : undefined;
    const memory = new MessageChannel();
    let alive = true;
    const watched = heapWatch.add(boot);
    worker.onerror = (e) => {
      e.preventDefault();
      if (!alive) return;
      try {
        onCrash(e.message ?? "uncaught error");
      } catch (err) {
        // Never let a process's death take the node down.
        console.error(`kernel: bug while reaping pid ${boot.pid}:`, err);
      }
    };
    worker.onmessageerror = () => {};
    // Nothing a process posts is a message: the memory port is one-way and the
    // worker's own channel carries only the boot message. (The runtime's lockdown
    // already refuses both; a message that arrives anyway ends the process.)
    const refuse = () => {
      if (!alive) return;
      try {
        onCrash("posted a message to the host: a process speaks only through traps");
      } catch (err) {
        console.error(`kernel: bug while reaping pid ${boot.pid}:`, err);
      }
    };
    worker.onmessage = refuse;
    memory.port1.onmessage = refuse;
    worker.postMessage({ ...boot, memoryPort: memory.port2 }, [memory.port2]);
    return {
      grant(grant) {
        memory.port1.postMessage(grant);
      },
      cpuUs() {
        if (tid === undefined) {
          const named = fresh.filter((t) => threadName(t).startsWith("worker-"));
          if (named.length === 1) tid = named[0];
          else if (named.length > 1) tid = null; // not to be told apart
        }
        return tid ? threadCpuUs(tid) : -1;
      },
      terminate() {
        if (!alive) return;
        alive = false;
        heapWatch.remove(watched);
        worker.terminate();
        memory.port1.close();
      },
    };
  }
}

/** The ids of this host's threads, or none if /proc cannot be read. */
function threads(): Set<string> {
  try {
    return new Set([...Deno.readDirSync(`/proc/${Deno.pid}/task`)].map((e) => e.name));
  } catch {
    return new Set(); // not Linux, or no read access to /proc: no thread is known
  }
}

/** A thread's name (Deno names a worker's worker-N), or "" if it has ended. */
function threadName(tid: string): string {
  try {
    return Deno.readTextFileSync(`/proc/${Deno.pid}/task/${tid}/comm`);
  } catch {
    return "";
  }
}

/** A thread's CPU time in µs (the first field of schedstat, in ns), or -1. */
function threadCpuUs(tid: string): number {
  try {
    const ns = Number(
      Deno.readTextFileSync(`/proc/${Deno.pid}/task/${tid}/schedstat`).split(" ")[0],
    );
    return Number.isFinite(ns) ? ns / 1000 : -1;
  } catch {
    return -1; // the thread has ended
  }
}

type Watched = { pid: number; module: string; trap: Int32Array };

/**
 * Names the processes that may be exhausting a JavaScript heap before V8 aborts the
 * host (issue 11, hole 2). Deno 2.9 gives a web Worker no heap limit of its own and no
 * near-heap-limit callback: a worker whose heap reaches V8's limit (the same for every
 * isolate; `--v8-flags=--max-old-space-size=N` lowers it for the kernel too) ends the
 * whole host with "Fatal JavaScript out of memory", status 133, and nothing of the
 * host's JavaScript runs after it. So while processes run, the host samples its
 * resident memory every 100 ms, and each time it climbs past half, three quarters and
 * nine tenths of that limit above where it started, it prints the processes running
 * JavaScript outside a trap (their trap page is idle or done: not waiting on the
 * kernel), which is where a heap grows. It is a diagnosis, not a defence: a program
 * can write its own trap page, and a process blocked in a raw `Atomics.wait` looks
 * like one running.
 */
class HeapWatch {
  static readonly PERIOD_MS = 100;
  static readonly LEVELS = [0.5, 0.75, 0.9];
  readonly #procs = new Set<Watched>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #base = 0;
  #last = 0;
  #level = 0;

  add(boot: BootMessage): Watched {
    const p = { pid: boot.pid, module: boot.module, trap: new Int32Array(boot.trap) };
    this.#procs.add(p);
    if (this.#timer === undefined) {
      this.#base = this.#last = Deno.memoryUsage().rss;
      this.#level = 0;
      const timer = setInterval(() => this.#sample(), HeapWatch.PERIOD_MS);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
    return p;
  }

  remove(p: Watched): void {
    this.#procs.delete(p);
    if (this.#procs.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #sample(): void {
    const rss = Deno.memoryUsage().rss;
    const limit = getHeapStatistics().heap_size_limit;
    const grown = rss - this.#base;
    const rate = (rss - this.#last) * 1000 / HeapWatch.PERIOD_MS;
    this.#last = rss;
    // Re-armed once the host is back under four fifths of the level last reported.
    while (this.#level > 0 && grown < HeapWatch.LEVELS[this.#level - 1] * limit * 0.8) {
      this.#level--;
    }
    let crossed = false;
    while (
      this.#level < HeapWatch.LEVELS.length && grown >= HeapWatch.LEVELS[this.#level] * limit
    ) {
      this.#level++;
      crossed = true;
    }
    if (!crossed) return;
    const running: string[] = [];
    for (const p of this.#procs) {
      const state = Atomics.load(p.trap, Trap.STATE);
      if (state === TrapState.IDLE || state === TrapState.DONE) {
        const where = p.module.startsWith(ROOT.href) ? p.module.slice(ROOT.href.length) : p.module;
        running.push(`node ${Atomics.load(p.trap, Trap.NODE)} pid ${p.pid} (${where})`);
      }
    }
    const mb = (n: number) => Math.round(n / 2 ** 20);
    console.error(
      `kernel: host memory is ${mb(grown)} MB above its start (${mb(rate)} MB/s); a process ` +
        `whose JavaScript heap reaches V8's limit of ${mb(limit)} MB aborts the whole host ` +
        `(Deno gives a worker no heap limit of its own). Running JavaScript outside a trap: ` +
        `${running.length ? running.join(", ") : "none"}`,
    );
  }
}

const heapWatch = new HeapWatch();
