/**
 * Isolation (issue 11, holes 1 and 5): a program cannot end the host, nor reach
 * other processes, the host's terminal or the package registries around the
 * kernel. Each test runs the attack, shows it fail, and shows the node (and a
 * process running beside the attacker) still serving afterwards.
 *
 * The powers come from three places, each shut at its own level: the worker's
 * globals (userland/lib/rt/lockdown.ts, evaluated before the program), Node's
 * built-in modules (the host's import map, kernel/host/program_imports.json), and
 * npm: and remote modules (`--no-npm --no-remote --no-lock` on the deno.json tasks).
 */

import assert from "node:assert/strict";
import { TestNode, withDeadline, withNode } from "./helpers.ts";
import { programLoadingProblem } from "../kernel/host/worker_host.ts";
import { runTask } from "./task_runner.ts";

const ROOT = new URL("../", import.meta.url);
const DENIED = /^(NotCapable|TypeError|DataCloneError)\b/;

/** The node still serves: the template server and its client run to the end. */
async function stillServing(node: TestNode): Promise<void> {
  const st = await node.run("userland/programs/counter.ts", ["5"]);
  assert.equal(st.status, 0, node.console.out + node.console.err);
  assert.match(node.console.out, /added 1\.\.5 = 15; it exited with status 0/);
}

async function runChannels(node: TestNode): Promise<{
  results: Record<string, string>;
  values: Record<string, string>;
}> {
  // A process beside the attacker, busy on memory and signals the whole time.
  const beside = node.spawn("userland/programs/pingpong.ts", ["200"]);
  const st = await node.run("iso_channels");
  assert.equal(st.status, 0, st.reason + node.console.err);
  const side = await node.exited(beside);
  assert.equal(side.status, 0, side.reason);
  assert.match(node.console.out, /parent \d+: 200 pongs from pid \d+/);
  await stillServing(node);
  const [r] = node.results();
  return r;
}

function assertDenied(results: Record<string, string>, keys: string[]): void {
  for (const key of keys) {
    assert.ok(key in results, `probe ${key} ran`);
    assert.match(results[key], DENIED, `${key}: expected a denial, got ${results[key]}`);
  }
}

Deno.test("the host runs programs with node: modules confined and npm: off", () => {
  // This suite (and every deno.json task) runs with the flags; a host without them
  // refuses to start processes at all.
  assert.equal(programLoadingProblem(), null);
});

Deno.test("a program cannot signal the host, hold its signals, or take its stdin", async () => {
  await withNode(async (node) => {
    const { results, values } = await runChannels(node);
    assertDenied(results, [
      "denoKill",
      "processGlobal",
      "signalListener",
      "permissionRequest",
      "stdin",
      "denoInternal",
    ]);
    assert.equal(values.process, "undefined");
    assert.equal(values.internal, "undefined");
    assert.equal(values.args, "[]", "the host's command line (a node's --secret) stays hidden");
    assert.match(values.cwd, DENIED, "the host's directory stays hidden");
  });
});

Deno.test("a program cannot write the host's stdout or stderr around the console", async () => {
  await withNode(async (node) => {
    const { results } = await runChannels(node);
    assertDenied(results, ["stdout", "stderr"]);
    // Every console method prints through the kernel (here the node's console).
    const all = node.console.out + node.console.err;
    for (const text of ['iso: "dir"', "table", "Trace: iso-trace", "iso-assert", "iso-count: 1"]) {
      assert.ok(all.includes(text), `console output ${text} went through the kernel`);
    }
    assert.ok(!all.includes("ISO-BYPASS"));
  });
});

Deno.test("no channel between processes: BroadcastChannel, caches, locks, blob: URLs", async () => {
  // The host listens where the attacker would post; a message the host posts after
  // the attack is the first (and only) one it gets.
  const listener = new BroadcastChannel("iso");
  const sender = new BroadcastChannel("iso");
  const got: unknown[] = [];
  const control = new Promise<void>((resolve) => {
    listener.onmessage = (e) => {
      got.push(e.data);
      if (e.data === "control") resolve();
    };
  });
  try {
    await withNode(async (node) => {
      const { results, values } = await runChannels(node);
      assertDenied(results, [
        "broadcastChannel",
        "caches",
        "cacheStorage",
        "locks",
        "gpu",
        "blobUrl",
      ]);
      assert.equal(values.BroadcastChannel, "undefined");
      assert.equal(values.caches, "undefined");
    });
    sender.postMessage("control");
    await withDeadline(control, 5_000, "the host's own broadcast");
    assert.deepEqual(got, ["control"]);
  } finally {
    listener.close();
    sender.close();
  }
});

Deno.test("a program cannot start workers or post messages to the host", async () => {
  await withNode(async (node) => {
    const { results, values } = await runChannels(node);
    assertDenied(results, [
      "worker",
      "selfPostMessage",
      "memoryPort",
      "anyPort",
      "clonedPort",
      "node:worker_threads",
      "bare worker_threads",
    ]);
    assert.equal(values.Worker, "undefined");
    assert.equal(values.postMessage, "undefined");
  });
});

Deno.test("a program cannot import npm:, jsr: or remote modules, nor Node's host modules", async () => {
  const lock = new URL("deno.lock", ROOT);
  const before = await exists(lock);
  await withNode(async (node) => {
    const { results } = await runChannels(node);
    assertDenied(results, ["importNpm", "importJsr", "importHttps", "importDataNpm"]);
    const node_ = Object.keys(results).filter((k) =>
      k.startsWith("node:") || k.startsWith("bare ")
    );
    assert.equal(node_.length, 20);
    assertDenied(results, node_);
    assert.equal(results.nodeUtil, "allowed", "a pure node: module still loads");
  });
  assert.equal(await exists(lock), before, "no lock file written into the project");
});

Deno.test("a program importing node:process statically never runs", async () => {
  await withNode(async (node) => {
    const st = await node.run("iso_node_static");
    assert.equal(st.status, 134, st.reason);
    assert.doesNotMatch(node.console.out, /ISO-STATIC-RAN/);
    await stillServing(node);
  });
});

/** Node's built-in module names, from a deno outside the import map (which confines node:module). */
async function builtinModules(): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "import { builtinModules } from 'node:module'; console.log(JSON.stringify(builtinModules))",
    ],
    cwd: ROOT,
    stdout: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.ok(out.success);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("the import map confines every node: built-in but the pure ones", async () => {
  const map = JSON.parse(
    Deno.readTextFileSync(new URL("kernel/host/program_imports.json", ROOT)),
  ) as { imports: Record<string, string> };
  const pure = new Set([
    "assert",
    "assert/strict",
    "buffer",
    "events",
    "path",
    "path/posix",
    "path/win32",
    "punycode",
    "querystring",
    "string_decoder",
    "timers",
    "timers/promises",
    "url",
    "util",
    "util/types",
  ]);
  const all = await builtinModules();
  assert.ok(all.includes("process") && all.includes("worker_threads"), all.join());
  for (const m of all) {
    const name = m.replace(/^node:/, "");
    if (pure.has(name)) continue;
    for (const spec of [`node:${name}`, name]) {
      assert.ok(map.imports[spec]?.startsWith("data:"), `${spec} is confined`);
      assert.ok(import.meta.resolve(spec).startsWith("data:"), `${spec} resolves confined`);
    }
  }
});

Deno.test("deno task boot --run: SIGKILL, stdin, stdout and npm from a program all fail", async () => {
  const lock = new URL("deno.lock", ROOT);
  const before = await exists(lock);
  const { code, stdout, stderr } = await runTask(
    "boot",
    ["--run", "tests/programs/iso_host_kill.ts"],
    "typed by the user\n",
    30_000,
  );
  assert.equal(code, 0, `host exit status ${code}\n${stdout}${stderr}`);
  for (const what of ["kill", "stdin", "stdout", "npm"]) {
    assert.match(stdout, new RegExp(`^${what}: denied`, "m"), stdout + stderr);
  }
  assert.match(stdout, /^args: \[\]$/m, "the host's command line stays hidden");
  assert.match(stdout, /^still alive$/m);
  assert.doesNotMatch(stdout + stderr, /typed by the user|ISO-BYPASS|Download/);
  assert.equal(await exists(lock), before, "no lock file written into the project");
});

async function exists(url: URL): Promise<boolean> {
  try {
    await Deno.stat(url);
    return true;
  } catch {
    return false;
  }
}
