/**
 * Tries every way around the kernel that a Deno worker with `permissions: "none"`
 * still had (issue 11, holes 1 and 5), harmlessly: a signal that does nothing to
 * the host (args[0], SIGCONT by default) instead of SIGKILL, and no reads of the
 * host's stdin (only the first touch of `Deno.stdin`). Reports, per probe,
 * "allowed" or the error it got; for the few values it reads, the value.
 * Then prints through each of the console's other methods.
 */

import { rt } from "../../userland/lib/rt/runtime.ts";
import { report } from "./report.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

async function probe(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return "allowed";
  } catch (e) {
    return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
}

/** A specifier the type checker does not follow (so `deno check` fetches nothing). */
function spec(...parts: string[]): string {
  return parts.join("");
}

export default async function main(args: string[]): Promise<number> {
  const sig = (args[0] ?? "SIGCONT") as Deno.Signal;
  const bytes = new TextEncoder().encode("ISO-BYPASS\n");
  const results: Record<string, string> = {
    denoKill: await probe(() => Deno.kill(Deno.pid, sig)),
    signalListener: await probe(() => Deno.addSignalListener("SIGINT", () => {})),
    permissionRequest: await probe(() =>
      Deno.permissions.requestSync({ name: "read", path: "/etc/hostname" })
    ),
    stdin: await probe(() => Deno.stdin.isTerminal()),
    stdout: await probe(() => Deno.stdout.writeSync(bytes)),
    stderr: await probe(() => Deno.stderr.writeSync(bytes)),
    processGlobal: await probe(() => g.process.kill(Deno.pid, sig)),
    denoInternal: await probe(() => Object.keys(g.Deno[g.Deno.internal].core.ops)),
    broadcastChannel: await probe(() => new g.BroadcastChannel("iso").postMessage("x")),
    caches: await probe(async () => await g.caches.open("iso")),
    cacheStorage: await probe(() => g.CacheStorage.prototype.open.call({}, "iso")),
    locks: await probe(async () => await g.navigator.locks.request("iso", () => {})),
    gpu: await probe(async () => await g.navigator.gpu.requestAdapter()),
    blobUrl: await probe(() => URL.createObjectURL(new Blob(["iso"]))),
    worker: await probe(() => new g.Worker("data:application/javascript,1", { type: "module" })),
    selfPostMessage: await probe(() => g.postMessage(new ArrayBuffer(1 << 20))),
    memoryPort: await probe(() => rt().memoryPort.postMessage(new ArrayBuffer(64 << 20))),
    anyPort: await probe(() => new MessageChannel().port1.postMessage("x")),
    clonedPort: await probe(() => {
      const ch = new MessageChannel();
      structuredClone(ch.port1, { transfer: [ch.port1] }).postMessage("x");
    }),
    importNpm: await probe(async () => await import(spec("npm:", "is-number@7.0.0"))),
    importJsr: await probe(async () => await import(spec("jsr:", "@std/version@1"))),
    importHttps: await probe(async () =>
      await import(spec("https://", "deno.land/std@0.224.0/version.ts"))
    ),
    importDataNpm: await probe(async () =>
      await import(spec("data:application/javascript,import 'npm:", "is-even@1.0.0'"))
    ),
  };
  const node = [
    "process",
    "worker_threads",
    "child_process",
    "fs",
    "tty",
    "v8",
    "vm",
    "module",
    "inspector",
    "net",
  ];
  for (const name of node) {
    results[`node:${name}`] = await probe(async () => await import(spec("node:", name)));
    results[`bare ${name}`] = await probe(async () => await import(spec(name)));
  }
  results.nodeUtil = await probe(async () => await import(spec("node:", "util")));
  const values = {
    args: JSON.stringify(Deno.args),
    cwd: await probe(() => Deno.cwd()),
    process: typeof g.process,
    BroadcastChannel: typeof g.BroadcastChannel,
    caches: typeof g.caches,
    Worker: typeof g.Worker,
    postMessage: typeof g.postMessage,
    internal: typeof g.Deno[g.Deno.internal],
    globals: Object.getOwnPropertyNames(globalThis).filter((k) => g[k] !== undefined).join(),
    symbols: [globalThis, Deno].flatMap((o) => Object.getOwnPropertySymbols(o).map(String)).join(),
  };
  report({ results, values });
  console.dir({ iso: "dir" });
  console.table([{ iso: "table" }]);
  console.trace("iso-trace");
  console.assert(false, "iso-assert");
  console.count("iso-count");
  return 0;
}
