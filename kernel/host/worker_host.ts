/**
 * The host layer's process host: each process is a Deno Worker with
 * `permissions: "none"` (it cannot touch files, network, environment or
 * subprocesses), whose main module is a stub importing the runtime's entry
 * (userland/lib/rt/process_entry.ts) and the program.
 *
 * The only messages ever sent to a worker are the kernel's hand-over of memory: the
 * boot message (its trap page, FIFO, page table and doorbell) and, on its memory
 * port, each segment buffer it is entitled to map. The runtime takes those from the
 * port synchronously on return from the bind trap.
 */

import type { BootMessage } from "../abi/boot.ts";
import type { ProcessHost } from "../host_interface.ts";
import type { ProcessHandle } from "../proc/process.ts";
import { hostClock, hostRandom32 } from "./clock.ts";

const LOCKDOWN = new URL("../../userland/lib/rt/lockdown.ts", import.meta.url).href;
const ENTRY = new URL("../../userland/lib/rt/process_entry.ts", import.meta.url).href;
const ROOT = new URL("../../", import.meta.url);

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

export class WorkerHost implements ProcessHost {
  readonly clock = hostClock;

  constructor() {
    const problem = programLoadingProblem();
    if (problem) throw new Error(`WorkerHost refuses to start processes: ${problem}`);
  }

  random32(): number {
    return hostRandom32();
  }

  resolveModule(spec: string): string | null {
    return resolveProgram(spec);
  }

  start(boot: BootMessage, onCrash: (message: string) => void): ProcessHandle {
    // The worker's main module: the runtime's entry, then the program. Both are loaded
    // by the host (which may read the project), never by the sandboxed worker.
    const stub = `import ${JSON.stringify(LOCKDOWN)};\n` +
      `import { start } from ${JSON.stringify(ENTRY)};\n` +
      `import * as program from ${JSON.stringify(boot.module)};\nstart(program);\n`;
    const worker = new Worker(`data:application/javascript,${encodeURIComponent(stub)}`, {
      type: "module",
      name: `pid ${boot.pid}`,
      // deno-lint-ignore no-explicit-any
      deno: { permissions: "none" } as any,
    });
    const memory = new MessageChannel();
    let alive = true;
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
      terminate() {
        if (!alive) return;
        alive = false;
        worker.terminate();
        memory.port1.close();
      },
    };
  }
}
