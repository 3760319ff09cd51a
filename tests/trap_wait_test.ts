/**
 * TrapWait (kernel/trap/trap_wait.ts), alone and in a whole kernel, on a controlled clock: the kernel takes its
 * clock from the host interface, so a test can advance time by hand and see a
 * deadline pass without waiting for it.
 */

import assert from "node:assert/strict";
import { Errno } from "../kernel/abi/errors.ts";
import type { Process } from "../kernel/proc/process.ts";
import { TrapWait, type WaitOptions } from "../kernel/trap/trap_wait.ts";
import { ManualClock } from "./manual_clock.ts";
import { Sig } from "../kernel/abi/layout.ts";
import { MemoryConsole } from "../kernel/host/console.ts";
import { WorkerHost } from "../kernel/host/worker_host.ts";
import { Kernel } from "../kernel/kernel.ts";
import { CLERK_WAIT_MS } from "../kernel/remote/name_service.ts";
import { BLOCK_ONLY, program, withDeadline } from "./helpers.ts";

type Finished = [result: number, errno: number, result2: number, detail: string];

function setup(o: WaitOptions = {}) {
  const clock = new ManualClock();
  const proc = { blocked: null, state: "running", trap: new Int32Array(64) } as unknown as Process;
  const finished: Finished[] = [];
  const w = new TrapWait(proc, 7, (_p, r, e, r2, d) => void finished.push([r, e, r2, d]), clock, o);
  proc.blocked = w;
  return { clock, proc, finished, w };
}

Deno.test("a trap wait completes once, with its results, and stops its deadline", () => {
  const { clock, proc, finished, w } = setup({ timeoutMs: 100 });
  assert.equal(w.pending, true);
  assert.equal(clock.timers.size, 1);
  assert.equal(w.complete(42, 9), true);
  assert.deepEqual(finished, [[42, 0, 9, ""]]);
  assert.equal(proc.blocked, null);
  assert.equal(clock.timers.size, 0, "the deadline was dropped");
  assert.equal(w.complete(1), false, "a second answer is dropped");
  assert.equal(w.fail(Errno.EIO, "late"), false);
  clock.advance(1_000);
  assert.deepEqual(finished, [[42, 0, 9, ""]]);
});

Deno.test("a trap wait past its deadline fails ETIMEDOUT with its reason and cancels", () => {
  let cancelled = 0;
  const { clock, finished, w } = setup({
    timeoutMs: 100,
    timeoutDetail: "no answer from the clerk",
    onCancel: () => cancelled++,
  });
  clock.advance(99);
  assert.deepEqual(finished, [], "not before its deadline");
  clock.advance(1);
  assert.deepEqual(finished, [[-1, Errno.ETIMEDOUT, 0, "no answer from the clerk"]]);
  assert.equal(cancelled, 1, "whoever held the wait let go of it");
  assert.equal(w.pending, false);
  assert.equal(w.complete(5), false, "an answer after the deadline is dropped");
});

Deno.test("a cancelled trap wait (its process died) never completes or writes its trap", () => {
  let cancelled = 0;
  const { clock, proc, finished, w } = setup({ timeoutMs: 50, onCancel: () => cancelled++ });
  (proc as { state: string }).state = "zombie";
  assert.equal(w.pending, false, "a dead process's wait is not pending");
  w.cancel();
  w.cancel();
  assert.equal(cancelled, 1, "cancelled once");
  assert.equal(clock.timers.size, 0);
  clock.advance(100);
  assert.equal(w.complete(1), false);
  assert.deepEqual(finished, []);
});

Deno.test("a trap wait without a deadline waits as long as it takes", () => {
  const { clock, finished, w } = setup({ timeoutMs: 0 });
  assert.equal(clock.timers.size, 0);
  clock.advance(1e9);
  assert.equal(w.pending, true);
  assert.equal(w.fail(Errno.EINTR, "signalled"), true);
  assert.deepEqual(finished, [[-1, Errno.EINTR, 0, "signalled"]]);
});

Deno.test("a wait that is no longer its process's current one does not complete", () => {
  const { proc, finished, w } = setup();
  proc.blocked = null; // e.g. the process was killed and its trap abandoned
  assert.equal(w.complete(3), false);
  assert.deepEqual(finished, []);
});

/** The host's workers, on a clock the test moves. */
class ManualHost extends WorkerHost {
  override readonly clock = new ManualClock();
}

Deno.test("a whole kernel on a controlled clock: a trap's deadline passes when the test says", async () => {
  const host = new ManualHost();
  const console = new MemoryConsole();
  // Block-only: the trap service reads the clock only to end a spin it never makes.
  const k = new Kernel(host, console, BLOCK_ONLY);
  const results = () =>
    console.out.split("\n").filter((l) => l.startsWith("RESULT ")).map((l) =>
      JSON.parse(l.slice(7))
    );
  const blocked = async (p: Process) => {
    const end = performance.now() + 10_000;
    while (p.blocked === null) {
      if (performance.now() > end) throw new Error(`pid ${p.pid} never blocked`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  try {
    // No clerk is attached: a name request waits CLERK_WAIT_MS of the host's time.
    const p = k.spawn(program("names_ask"), ["nosuch"]);
    await blocked(p);
    host.clock.advance(CLERK_WAIT_MS - 1);
    assert.notEqual(p.blocked, null, "not before its deadline, however long the test took");
    host.clock.advance(1);
    assert.equal(p.blocked, null, "at its deadline, at once");
    const st = await withDeadline(p.exited, 10_000, "the asker to exit");
    assert.equal(st.status, 0, st.reason);
    assert.deepEqual(results(), [{ asked: "EIO" }]);

    // A killed process's wait lets go of its timer.
    const q = k.spawn(program("names_ask"), ["nosuch"]);
    await blocked(q);
    const timers = host.clock.timers.size;
    k.signalProcess(q, Sig.SIGKILL, 0);
    await withDeadline(q.exited, 10_000, "the killed asker to exit");
    assert.equal(host.clock.timers.size, timers - 1, "its deadline was dropped");
  } finally {
    k.halt();
    await new Promise((r) => setTimeout(r, 0));
  }
});
