/**
 * A process that exhausts its JavaScript heap (issue 11, hole 2). Deno 2.9 gives a
 * web Worker no heap limit of its own and no near-heap-limit callback, so V8 aborts
 * the whole host when any worker's heap reaches the limit every isolate shares
 * ("Fatal JavaScript out of memory", status 133): the kernel never hears of it and no
 * other process survives. What the emulator can do is name the process first
 * (kernel/host/worker_host.ts, HeapWatch). These tests run the attack in a child
 * host with a small heap limit, so they take a second and kill only the child, and
 * pin the platform's boundary down in plain Deno: when Deno grows a per-worker limit,
 * the second test fails and says so.
 *
 * Needs permission to run deno (the test task grants `--allow-run`).
 */

import assert from "node:assert/strict";
import { Worker as NodeWorker } from "node:worker_threads";
import { withDeadline } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url);
/** V8's heap limit for the child hosts, in MB: small, so the heap fills in a second. */
const HEAP_MB = 512;

interface Run {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Runs deno with `args` in the project; rejects after `ms`. */
async function deno(args: string[], ms = 30_000): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  try {
    const out = await withDeadline(child.output(), ms, `deno ${args.join(" ")}`);
    const dec = new TextDecoder();
    return {
      code: out.code,
      signal: out.signal,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  } catch (e) {
    child.kill("SIGKILL");
    await child.status;
    throw e;
  }
}

/** `deno task boot`'s own command line (deno.json), with V8's heap limit set to `mb`. */
async function bootArgs(mb: number): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const [command, sub, ...rest] = (config.tasks.boot as string).split(/\s+/);
  assert.equal(`${command} ${sub}`, "deno run", `unexpected boot task: ${config.tasks.boot}`);
  return [sub, `--v8-flags=--max-old-space-size=${mb}`, ...rest];
}

/** V8 aborted the host for a full heap: SIGTRAP, status 133, and V8's own words. */
function assertHeapAbort(r: Run): void {
  assert.ok(r.code === 133 || r.signal === "SIGTRAP", `status ${r.code} (${r.signal})`);
  assert.match(r.stderr, /Fatal JavaScript out of memory/);
}

Deno.test("a process exhausting its heap aborts the host, which names it first", async () => {
  const r = await deno([
    ...await bootArgs(HEAP_MB),
    "--nodes",
    "1",
    "--run",
    "tests/programs/oom_hog.ts",
  ]);
  assertHeapAbort(r);
  const pid = r.stdout.match(/^oom_hog: pid (\d+) growing its heap$/m)?.[1];
  assert.ok(pid, `the hog never started:\n${r.stdout}\n${r.stderr.slice(0, 2000)}`);
  const named = r.stderr.split("\n").filter((l) => l.startsWith("kernel: host memory is "));
  assert.ok(named.length > 0, `the host named no process:\n${r.stderr.slice(0, 2000)}`);
  for (const line of named) {
    assert.ok(
      line.includes(`node 0 pid ${pid} (tests/programs/oom_hog.ts)`),
      `the hog (pid ${pid}) is not named: ${line}`,
    );
    assert.match(line, /aborts the whole host/);
  }
  // Named before the end: the warning comes before V8's report of the abort.
  assert.ok(r.stderr.indexOf(named[0]) < r.stderr.indexOf("Fatal JavaScript out of memory"));
});

// The boundary in plain Deno: no option or flag gives one web Worker a heap of its own.
// `resourceLimits` and `deno.memoryMb` (denoland/deno#35766, unmerged) are ignored, and
// `--max-old-space-size` lowers every isolate's limit, the host's too, and still aborts.
const PLAIN_WORKER = `
const hog = "const a = []; for (;;) a.push(new Array(1 << 20).fill(0.5));";
const w = new Worker("data:application/javascript," + encodeURIComponent(hog), {
  type: "module",
  resourceLimits: { maxOldGenerationSizeMb: 32 },
  deno: { permissions: "none", memoryMb: 32 },
});
w.onerror = (e) => { e.preventDefault(); console.log("worker ended alone:", e.message); Deno.exit(0); };
setTimeout(() => { console.log("host outlived the worker"); Deno.exit(0); }, 20000);
`;

Deno.test("plain Deno: a web Worker that fills its heap aborts the whole host", async () => {
  const r = await deno([
    "eval",
    "--unstable-worker-options",
    "--v8-flags=--max-old-space-size=64",
    PLAIN_WORKER,
  ]);
  assert.doesNotMatch(
    r.stdout,
    /ended alone|outlived/,
    "Deno now ends a web Worker alone at its heap limit: give each process one " +
      "(kernel/host/worker_host.ts) and let the kernel report it (issue 11, hole 2)",
  );
  assertHeapAbort(r);
});

// What Deno can do, though not for a sandboxed web Worker: a node:worker_threads Worker
// with resourceLimits ends alone (ERR_WORKER_OUT_OF_MEMORY, exit code 1), but it shares
// its creator's permissions (no `permissions: "none"`), so it is no process host as is.
Deno.test("plain Deno: a node:worker_threads Worker with resourceLimits ends alone", async () => {
  const w = new NodeWorker("const a = []; for (;;) a.push(new Array(1 << 20).fill(0.5));", {
    eval: true,
    resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 },
  });
  const errors: string[] = [];
  w.on("error", (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
  const code = await withDeadline(
    new Promise<number>((resolve) => w.on("exit", resolve)),
    20_000,
    "the worker's exit",
  );
  assert.deepEqual(errors, ["ERR_WORKER_OUT_OF_MEMORY"]);
  assert.equal(code, 1);
});
