/**
 * Robustness: the node survives processes that crash with huge messages, scribble on
 * the memory the kernel shares with them (signal FIFO header, page-table directory,
 * signal directories) or leave their worker by the back door (self.close,
 * Deno.exit); signals are neither lost nor duplicated when a program is idle, waits
 * inside a handler, outgrows a signal directory or removes a handler; and a few
 * userland calls (view high up, info with multi-byte text, wait's timeout) give
 * exact answers. Regression tests for the fixes in "Harden the kernel against
 * process-writable memory and fix review findings".
 */

import assert from "node:assert/strict";
import { Sig } from "../kernel/abi/layout.ts";
import { Sys } from "../kernel/abi/syscalls.ts";
import type { KernelConfig } from "../kernel/kernel.ts";
import type { Process } from "../kernel/proc/process.ts";
import { program, type TestNode, withNode } from "./helpers.ts";

const PATHS: [string, Partial<KernelConfig>][] = [
  ["hardware path", { signalPath: "hardware" }],
  ["software path", { signalPath: "software" }],
];

/** The single RESULT a program printed, checking there is exactly one. */
function only(node: TestNode, pick: (r: any) => boolean = () => true): any {
  const r = node.results().filter(pick);
  assert.equal(r.length, 1, `expected one RESULT, got:\n${node.console.out}${node.console.err}`);
  return r[0];
}

/** Asserts a clean exit, showing the console on failure. */
function assertExit0(node: TestNode, st: { status: number; reason: string }): void {
  assert.equal(
    st.status,
    0,
    `${st.reason}\n--- console ---\n${node.console.out}${node.console.err}`,
  );
}

/** The node has logged no kernel bug and still runs programs to their end. */
async function assertNodeWorks(node: TestNode): Promise<void> {
  assert.ok(!node.console.err.includes("kernel: bug"), node.console.err);
  const st = await node.run("exit_with", ["5"], 10_000);
  assert.equal(st.status, 5, st.reason);
}

/** The running child of `parent`, if any. */
function childOf(node: TestNode, parent: Process): Process | undefined {
  return [...node.kernel.procs.values()].find((p) => p.ppid === parent.pid);
}

// ---------------------------------------------------------------------------
// 1. A crash message longer than any data area

/** Checks a reaped crash: status 134 and the reason clipped, saying by how much. */
function assertClippedCrash(crashed: any, pid: number): void {
  assert.equal(typeof crashed, "object", `wait failed: ${JSON.stringify(crashed)}`);
  assert.equal(crashed.pid, pid);
  assert.equal(crashed.status, 134, crashed.reason);
  const reason: string = crashed.reason;
  assert.ok(reason.startsWith("crashed at load: Error: boom:x"), reason.slice(0, 80));
  const at = reason.indexOf("boom:x");
  assert.ok(at > 0, reason.slice(0, 80));
  const m = reason.match(/… \((\d+) more characters\)$/);
  assert.ok(m, `not clipped: …${reason.slice(-80)}`);
  // The full reason was at + "boom:" + 6000 x's; 1000 characters of it are kept.
  const full = at + 5 + 6000;
  assert.equal(Number(m[1]), full - 1000);
  assert.equal(reason.length, 1000 + m[0].length);
  assert.equal(reason.slice(at + 5, 1000), "x".repeat(1000 - at - 5));
}

Deno.test("wait() blocked on a child that throws a >5000-character error at load returns 134 with the reason clipped", async () => {
  await withNode(async (node) => {
    const parent = node.spawn("rob_crash_parent", ["blocked"]);
    await node.until(
      () =>
        node.results().some((r) => r.gate) && parent.blocked?.sysno === Sys.wait &&
        childOf(node, parent) !== undefined,
      10_000,
      "the parent to block in wait() and the child to reach its gate",
    );
    const child = childOf(node, parent)!;
    node.kernel.signalProcess(child, Sig.SIGHUP, 0); // now it throws
    const st = await node.exited(parent, 15_000);
    assertExit0(node, st);
    const r = only(node, (x) => "crashed" in x);
    assert.equal(r.pid, child.pid);
    assertClippedCrash(r.crashed, child.pid);
    assert.equal(r.again.status, 7, "the parent spawns and waits again");
    assert.ok(!node.kernel.procs.has(child.pid), "the crashed child is reaped");
    await assertNodeWorks(node);
  });
});

Deno.test("wait() after SIGCHLD from a child that threw a >5000-character error at load returns 134 with the reason clipped", async () => {
  await withNode(async (node) => {
    const st = await node.run("rob_crash_parent", ["after"], 15_000);
    assertExit0(node, st);
    const r = only(node);
    assert.equal(r.sigchld, 1);
    assertClippedCrash(r.crashed, r.pid);
    assert.equal(r.again.status, 7, "the parent spawns and waits again");
    assert.ok(!node.kernel.procs.has(r.pid), "the crashed child is reaped");
    await assertNodeWorks(node);
  });
});

// ---------------------------------------------------------------------------
// 2. Scribbled kernel-shared memory

Deno.test("kernel-posted signals (SIGCHLD, SIGTERM) to a process that scribbled its FIFO header are delivered and the node survives", async () => {
  await withNode(async (node) => {
    const bystander = node.spawn("rob_misc", ["idle"]);
    const st = await node.run("rob_fifo_scribble", [], 15_000);
    assertExit0(node, st);
    const r = only(node);
    assert.equal(r.sigchld, 1, "SIGCHLD handled");
    assert.equal(r.sigterm, 1, "SIGTERM handled");
    assert.equal(r.killed, null, "kill() succeeded");
    assert.equal(r.waited.status, 0);
    assert.equal(r.counters.dropped, 0);
    assert.equal(r.counters.pending, 0);
    assert.equal(bystander.state, "running", "another process is unaffected");
    await assertNodeWorks(node);
    node.kernel.signalProcess(bystander, Sig.SIGTERM, 0);
    assert.equal((await node.exited(bystander, 5000)).status, 128 + Sig.SIGTERM);
  });
});

Deno.test("a process that scribbled its page-table directory is reaped on exit, its parent's wait returns and its memory is freed", async () => {
  await withNode(async (node) => {
    const before = node.kernel.stats.memoryUsed;
    const st = await node.run("rob_pt_scribble", [], 15_000);
    assertExit0(node, st);
    const child = only(node, (x) => "child" in x);
    const parent = only(node, (x) => "waited" in x);
    assert.equal(child.used, before + 64 * 1024, "the child held 64 KiB while it ran");
    assert.equal(parent.waited.pid, child.child, JSON.stringify(parent.waited));
    assert.equal(parent.waited.status, 0, parent.waited.reason);
    assert.equal(parent.after, parent.before, "memory in use is back where it was");
    assert.equal(node.kernel.stats.memoryUsed, before);
    assert.ok(!node.kernel.procs.has(child.child), "reaped");
    await assertNodeWorks(node);
  });
});

// ---------------------------------------------------------------------------
// 3. Idle delivery

for (const [name, cfg] of PATHS) {
  // A lost wakeup leaves the idle receiver asleep with a signal in its FIFO; it is a
  // race, so the ping-pong runs many rounds (about 0.1–0.3 s when nothing is lost).
  Deno.test(`SignalHandler() of an idle program (awaiting a Promise) gets every one of 5000 ping-pong signals (${name})`, async () => {
    const N = 5000;
    await withNode(async (node) => {
      const st = await node.run("rob_idle_pingpong", [String(N)], 60_000);
      assertExit0(node, st);
      const s = only(node, (x) => "rounds" in x);
      assert.equal(s.lost, -1, `round ${s.lost}: the idle receiver missed a wakeup`);
      assert.equal(s.rounds, N);
      assert.equal(s.acks, N + 1, "one ack per ping, and the ready signal");
      assert.equal(s.receiver?.status, 0, JSON.stringify(s.receiver));
      assert.equal(only(node, (x) => "rx" in x).rx, N);
    }, cfg);
  });
}

// ---------------------------------------------------------------------------
// 4. SigWait inside a handler

for (const [name, cfg] of PATHS) {
  Deno.test(`SigWait() inside a handler returns 0 after its timeout and the signals queued meanwhile run once each afterwards (${name})`, async () => {
    await withNode(async (node) => {
      const st = await node.run("rob_sigwait_nested", [], 15_000);
      assertExit0(node, st);
      const r = only(node);
      assert.equal(r.queued, 1);
      assert.deepEqual(r.inner.queued, [1, 1]);
      assert.equal(r.inner.r, 0, "SigWait in a handler times out");
      assert.ok(r.inner.el >= 90, `it waited out its timeout (${r.inner.el} ms)`);
      assert.deepEqual(r.inner.log, [0], "no handler ran inside the handler");
      assert.deepEqual(r.log, [0, 4, 8], "each signal exactly once, in order");
      assert.deepEqual(r.counters, { handled: 3, dropped: 0, pending: 0 });
    }, cfg);
  });
}

// ---------------------------------------------------------------------------
// 5, 6. Signal directories: overflow and scribbles

Deno.test("Signal() on the last of 300 handler ranges of one segment still delivers (directory COUNT -1, hardware path)", async () => {
  await withNode(async (node) => {
    const st = await node.run("rob_dir_overflow", [], 15_000);
    assertExit0(node, st);
    const r = only(node);
    assert.equal(r.count, -1, "the directory says its entries did not fit");
    assert.equal(r.last, 1);
    assert.equal(r.first, 1);
    assert.deepEqual(r.hits, [299, 0]);
  }, { signalPath: "hardware" });
});

for (const mode of ["odd", "huge", "negative"]) {
  const what = { odd: "an odd VERSION", huge: "COUNT 2^30", negative: "COUNT -7" }[mode];
  Deno.test(`Signal() from a sender whose signal directory has ${what} returns through the kernel instead of hanging`, async () => {
    await withNode(async (node) => {
      const st = await node.run("rob_dir_scribble", [mode], 10_000);
      assertExit0(node, st);
      const r = only(node);
      assert.equal(r.before.version % 2, 0, "the directory was stable before");
      assert.equal(r.before.count, 1);
      assert.equal(r.n, 1, "the kernel delivered to the one receiver");
      assert.equal(r.hits, 1);
      assert.ok(node.kernel.stats.signalsQueued >= 1, "queued by the kernel");
    }, { signalPath: "hardware" });
  });
}

// ---------------------------------------------------------------------------
// 7–11. Userland calls

Deno.test("view() on a binding at 0x90000000 reads and writes the bound memory", async () => {
  await withNode(async (node) => {
    const st = await node.run("rob_misc", ["view-high"]);
    assertExit0(node, st);
    const r = only(node);
    assert.equal(r.at, 0x9000_0000);
    assert.deepEqual(r.read, [1, 2, 3, 4]);
    assert.deepEqual(r.across, [0xaa, 0xbb, 0xcc, 0xdd]);
    assert.equal(r.low, 0xbb);
    assert.equal(r.high, 0x0807_ddcc);
  });
});

Deno.test('info("ps") returns multi-byte arguments that cross data-area chunk boundaries exactly', async () => {
  // Two runs of "é" whose starts differ by an odd number of bytes: whatever the table
  // before them, a chunk boundary falls inside a character in one of them.
  const args = ["a" + "é".repeat(2500), "é".repeat(2500)];
  await withNode(async (node) => {
    const child = node.kernel.spawn(program("rob_misc"), ["idle", ...args]);
    const st = await node.run("rob_misc", ["ps", String(child.pid)]);
    assertExit0(node, st);
    const r = only(node);
    assert.ok(Array.isArray(r.args), JSON.stringify(r).slice(0, 200));
    assert.equal(r.args.length, 3);
    assert.equal(r.args[0], "idle");
    assert.ok(r.args[1] === args[0], "the first argument is intact");
    assert.ok(r.args[2] === args[1], "the second argument is intact");
  });
});

Deno.test("wait() on a child that calls self.close() or Deno.exit(3) returns status 0 or 3", async () => {
  await withNode(async (node) => {
    const st = await node.run("rob_misc", ["exits"], 15_000);
    assertExit0(node, st);
    const r = only(node);
    assert.equal(r.close?.status, 0, JSON.stringify(r.close));
    assert.equal(r["deno-exit"]?.status, 3, JSON.stringify(r["deno-exit"]));
    await assertNodeWorks(node);
  });
});

Deno.test("removeSignalHandler() keeps a handler from running for signals queued before its removal (software path)", async () => {
  await withNode(async (node) => {
    const st = await node.run("rob_misc", ["remove-handler"]);
    assertExit0(node, st);
    const r = only(node);
    assert.equal(r.queued, 1, "the signal was queued for the handler");
    assert.equal(r.removed, 1);
    assert.equal(r.handled, 2, "both signals were taken from the FIFO");
    assert.deepEqual(r.ranRemoved, [], "the removed handler did not run");
  }, { signalPath: "software" });
});

Deno.test("wait(pid, 50) on a child that never exits fails with ETIMEDOUT saying no child exited within 50 ms", async () => {
  await withNode(async (node) => {
    const st = await node.run("rob_misc", ["wait-timeout"]);
    assertExit0(node, st);
    const r = only(node);
    assert.equal(r.error?.code, "ETIMEDOUT", JSON.stringify(r.error));
    assert.ok(
      r.error.message.includes("no child exited within 50 ms"),
      `message: ${r.error.message}`,
    );
    assert.ok(r.el >= 45, `it waited (${r.el} ms)`);
    assert.equal(r.end.status, 128 + Sig.SIGKILL, "the child was still running");
  });
});
