/**
 * Address-valued signals (001 §3.1): translation into each receiver's address space,
 * several handlers per region and per process, FIFO order, overflow, SigWait's
 * timeout, delivery on trap return without nesting, and Unix signals (kill) as
 * signals at well-known addresses, including reaping of killed processes.
 */

import assert from "node:assert/strict";
import { Fifo, Rights, Sig, signalAddress } from "../kernel/abi/layout.ts";
import { Sys } from "../kernel/abi/syscalls.ts";
import type { KernelConfig } from "../kernel/kernel.ts";
import { program, withNode } from "./helpers.ts";

const PAGE = 4096;

/**
 * The delivery tests run on the node's default signal path and on the software path
 * (the sender traps and the kernel translates: KernelConfig.signalPath).
 */
const PATHS: [string, Partial<KernelConfig>][] = [
  ["", {}],
  [" (software path)", { signalPath: "software" } as Partial<KernelConfig>],
];

for (const [path, cfg] of PATHS) {
  Deno.test(`Signal() delivers each receiver's own address for the same segment offset${path}`, async () => {
    await withNode(async (node) => {
      const st = await node.run("sig_translate", ["0x10000000", "0x20000000", "0x30005000"]);
      assert.equal(st.status, 0, st.reason);
      const results = node.results();
      const sender = results.find((r) => "queued" in r);
      const receivers = results.filter((r) => "got" in r).sort((x, y) => x.base - y.base);
      assert.equal(sender.base, 0x1000_0000);
      assert.deepEqual(receivers.map((r) => r.base), [0x2000_0000, 0x3000_5000]);
      for (const r of receivers) {
        assert.deepEqual(r.got, [r.base + 0x124, r.base + 0x800, r.base], `pid ${r.pid}`);
      }
      // The receivers' ready signals arrive at the sender's address for page 1.
      assert.deepEqual(sender.readyAt, [0x1000_0000 + PAGE, 0x1000_0000 + PAGE]);
      assert.deepEqual(sender.children.map((c: any) => c.status), [0, 0]);
    }, cfg);
  });

  Deno.test(`Signal() returns the number of receivers queued, 0 where no handler is${path}`, async () => {
    await withNode(async (node) => {
      const st = await node.run("sig_translate", ["0x10000000", "0x20000000", "0x30005000"]);
      assert.equal(st.status, 0, st.reason);
      const sender = node.results().find((r) => "queued" in r);
      assert.deepEqual(sender.queued, { a: 2, b: 2, self: 1, none: 0, stop: 2 });
      assert.deepEqual(sender.selfGot, [0x1000_0000 + PAGE + 8], "the sender's own handler ran");
      assert.deepEqual(sender.errors, { unmapped: "EFAULT", reserved: "EINVAL" });
    }, cfg);
  });

  Deno.test(`SignalHandler() on one region by several processes delivers to each of them${path}`, async () => {
    await withNode(async (node) => {
      const st = await node.run("sig_translate", [
        "0x10000000",
        "0x20000000",
        "0x30005000",
        "0x40000000",
      ]);
      assert.equal(st.status, 0, st.reason);
      const receivers = node.results().filter((r) => "got" in r);
      assert.equal(receivers.length, 3);
      assert.equal(new Set(receivers.map((r) => r.pid)).size, 3);
      for (const r of receivers) assert.deepEqual(r.got, [r.base + 0x124, r.base + 0x800, r.base]);
      const sender = node.results().find((r) => "queued" in r);
      assert.equal(sender.queued.a, 3);
    }, cfg);
  });

  Deno.test(`SignalHandler() on several regions of one process runs the handler of each region${path}`, async () => {
    await withNode(async (node) => {
      const st = await node.run("sig_regions");
      assert.equal(st.status, 0, st.reason);
      const [r] = node.results();
      const h = (v: number) => v.toString(16);
      assert.deepEqual(r.log, [
        `A@${h(r.a + 8)}`,
        `B@${h(r.b + 8)}`,
        `C@${h(r.b + PAGE + 4)}`, // the more recent, narrower range wins
        `B@${h(r.b + PAGE + 64)}`, // just past it: the wider range again
        `A@${h(r.c + 12)}`, // one function serving two segments
      ]);
      assert.deepEqual(r.counts, [1, 1, 1, 1, 1]);
      assert.equal(r.removed, 1);
      assert.equal(r.afterRemove, 0, "no handler left on the first segment");
    }, cfg);
  });

  Deno.test(`Signal() bursts are handled in the order sent (FIFO)${path}`, async () => {
    await withNode(async (node) => {
      const st = await node.run("sig_fifo", ["64"]);
      assert.equal(st.status, 0, st.reason);
      const sender = node.results().find((r) => "sent" in r);
      const receiver = node.results().find((r) => "got" in r);
      assert.equal(sender.child.status, 0, sender.child.reason);
      assert.deepEqual(sender.queued, new Array(64).fill(1));
      assert.notDeepEqual(sender.sent, [...sender.sent].sort((a: number, b: number) => a - b));
      assert.deepEqual(receiver.got.map((a: number) => a - receiver.base), sender.sent);
      assert.equal(receiver.counters.handled, 64);
      assert.equal(receiver.counters.dropped, 0);
    }, cfg);
  });

  Deno.test(`Signal() to a full FIFO drops the excess: capacity handled, the rest counted${path}`, async () => {
    const N = 10, CAP = 4;
    await withNode(async (node) => {
      const recv = node.spawn("sig_overflow");
      // The receiver is blocked in wait() (a trap): it cannot drain until it returns.
      await node.until(
        () => node.results().some((r) => r.ready) && recv.blocked?.sysno === Sys.wait,
        10_000,
        "the receiver to block in wait()",
      );
      const ready = node.results().find((r) => r.ready);
      const sender = node.kernel.spawn(
        program("sig_overflow"),
        ["--send", String(ready.segment), String(0x2000_0000), String(N)],
        { share: [{ segment: ready.segment, rights: Rights.READ | Rights.WRITE }] },
      );
      const sst = await node.exited(sender);
      assert.equal(sst.status, 0, sst.reason);
      const sent = node.results().find((r) => "queued" in r);
      assert.deepEqual(sent.queued, [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
      assert.equal(recv.fifo.pending(), CAP);
      assert.equal(recv.fifo.dropped(), N - CAP);

      // Release the receiver: its wait() returns and the queued handlers run.
      node.kernel.signalProcess(node.kernel.procs.get(ready.sleeper)!, Sig.SIGKILL, 0);
      const st = await node.exited(recv);
      assert.equal(st.status, 0, st.reason);
      const r = node.results().find((x) => "got" in x);
      assert.deepEqual(r.got, [0, 4, 8, 12].map((o) => ready.base + o), "the first CAP, in order");
      assert.equal(r.handledOnReturn, CAP, "handled on the return of wait()");
      assert.deepEqual(r.counters, { handled: CAP, dropped: N - CAP, pending: 0 });
      assert.equal(r.selfDropped, N - CAP);
      assert.equal(r.psDropped, N - CAP, "ps shows the drops");
      assert.equal(r.waited.status, 137);
      assert.ok(node.kernel.stats.signalsDropped >= N - CAP, "counted in the node's stats");
    }, { ...cfg, fifoCapacity: CAP });
  });

  // No bound here is a race against the machine's load: the program reads the clock
  // SigWait reads, around the call, so each inequality below holds by construction;
  // how long anything took is bounded only by the run's deadline.
  Deno.test(`SigWait() returns 0 after its timeout when no signal arrives${path}`, async () => {
    await withNode(async (node) => {
      // SigWait(0) polls: were 0 "no timeout", the program would never end and the
      // run would fail at its deadline.
      const st = await node.run("sig_wait", ["timeout", "120"], 15_000);
      assert.equal(st.status, 0, st.reason);
      const [r] = node.results();
      assert.equal(r.r, 0);
      // SigWait returns 0 only once its own clock has passed its deadline, which it
      // set after the program read the time: not early, whatever the load.
      assert.ok(r.el >= 119, `waited ${r.el} ms of 120`);
      assert.equal(r.r0, 0, "SigWait(0) polls");
    }, cfg);
  });

  Deno.test(`SigWait() returns the time remaining when a signal arrives first${path}`, async () => {
    const T = 5_000;
    await withNode(async (node) => {
      const k = node.kernel;
      const p = node.spawn("sig_wait", ["early", String(T)]);
      // The child signals only when the test says so, and the test says so once the
      // process is blocked in SigWait (its FIFO's WAITING word, set just before it
      // sleeps, after its deadline is set): the signal cannot come first.
      const FLAG = 128 / 4;
      let seg: { words: Int32Array } | undefined;
      await node.until(
        () => {
          seg = [...k.segments.values()].find((s) => s.creator === p.pid);
          return seg !== undefined && Atomics.load(seg.words, FLAG) === 1 &&
            Atomics.load(p.fifo.words, Fifo.WAITING) === 1;
        },
        10_000,
        "the process to block in SigWait",
      );
      // Keep it blocked at least D ms of real time (load only makes that longer),
      // so a SigWait that reported too much of T left would be caught.
      const D = 50;
      await new Promise((r) => setTimeout(r, D));
      Atomics.store(seg!.words, FLAG, 2);
      const st = await node.exited(p);
      assert.equal(st.status, 0, st.reason);
      const [r] = node.results();
      assert.deepEqual(r.got, [r.base + 8], "the handler ran inside SigWait");
      // It blocked for at least D ms before the signal: at most T - D remains.
      assert.ok(r.r > 0 && r.r <= T - D, `remaining ${r.r} of ${T}, after ${D} ms blocked`);
      // The remaining time is counted from SigWait's own deadline, set after the
      // program read the clock; the program read it again after the return. So the
      // remaining and the elapsed together are never less than T.
      assert.ok(r.r + r.el >= T - 1e-6, `remaining ${r.r} + elapsed ${r.el} < ${T}`);
      assert.equal(r.child.status, 0);
    }, cfg);
  });

  Deno.test(`handlers run on trap return and never nest${path}`, async () => {
    await withNode(async (node) => {
      const st = await node.run("sig_trap_return");
      assert.equal(st.status, 0, st.reason);
      const [r] = node.results();
      assert.deepEqual(r.nesting, [
        "before",
        "A:0",
        "A-sent:1",
        "A-end:pending=1", // B waits in the FIFO while A runs
        "B:64",
        "after:1",
      ]);
      assert.deepEqual(r.busy, [
        "loop-done:pending=1:handled=0", // queued while computing: not run yet
        "handler:0x40000008", // run by the next trap, before it returned
        "after-trap:handled=1",
        "child:0",
      ]);
    }, cfg);
  });
}

Deno.test("kill() of oneself with a SIGTERM handler runs it before kill() returns", async () => {
  await withNode(async (node) => {
    const st = await node.run("sig_trap_return");
    assert.equal(st.status, 0, st.reason);
    const [r] = node.results();
    assert.deepEqual(r.selfKill, Array.from({ length: 20 }, (_, i) => i + 1));
  });
});

Deno.test("kill() is SIGTERM at a well-known address: 143 by default, handled if a handler is there", async () => {
  await withNode(async (node) => {
    const st = await node.run("sig_kill");
    assert.equal(st.status, 0, st.reason);
    const parent = node.results().find((r) => "parent" in r);
    const child = node.results().find((r) => "child" in r);
    assert.equal(parent.plain.status, 143);
    assert.equal(parent.plain.reason, `killed by SIGTERM from pid ${parent.parent}`);
    assert.deepEqual(
      child.got,
      [signalAddress(Sig.SIGTERM)],
      "the handler got the SIGTERM address",
    );
  });
});

Deno.test("kill(pid, SIGKILL) cannot be handled: status 137 and reason seen by wait()", async () => {
  await withNode(async (node) => {
    const st = await node.run("sig_kill");
    assert.equal(st.status, 0, st.reason);
    const parent = node.results().find((r) => "parent" in r);
    assert.equal(parent.handled.status, 137);
    assert.equal(parent.handled.reason, `killed by SIGKILL from pid ${parent.parent}`);
  });
});

Deno.test("kill() of a nonexistent or reaped pid is ESRCH; of signal 0 is EINVAL", async () => {
  await withNode(async (node) => {
    const st = await node.run("sig_kill");
    assert.equal(st.status, 0, st.reason);
    const parent = node.results().find((r) => "parent" in r);
    assert.deepEqual(parent.errors, { noSuchPid: "ESRCH", reaped: "ESRCH", badSigno: "EINVAL" });
  });
});

Deno.test("kernel.signalProcess(SIGKILL) reaps processes in SigWait and in a load loop; the kernel keeps serving", async () => {
  await withNode(async (node) => {
    const k = node.kernel;
    const baseline = k.stats.memoryUsed;
    const waiting = node.spawn("sig_victim", ["--sigwait"]);
    const spinning = node.spawn("sig_victim", ["--spin"]);
    const term = node.spawn("sig_victim", ["--sigwait"]);
    await node.until(() => node.results().filter((r) => r.ready).length === 3, 10_000, "victims");
    const owned = (pid: number) => [...k.segments.values()].filter((s) => s.creator === pid);
    for (const p of [waiting, spinning, term]) assert.equal(owned(p.pid).length, 1);
    assert.equal(k.stats.memoryUsed, baseline + 3 * 2 * PAGE);

    k.signalProcess(waiting, Sig.SIGKILL, 0);
    k.signalProcess(spinning, Sig.SIGKILL, 0);
    k.signalProcess(term, Sig.SIGTERM, 0); // its handler covers its memory, not SIGTERM
    const [a, b, c] = await Promise.all([waiting, spinning, term].map((p) => node.exited(p)));
    assert.deepEqual([a.status, b.status, c.status], [137, 137, 143]);
    assert.equal(a.reason, "killed by SIGKILL");
    assert.equal(c.reason, "killed by SIGTERM");
    for (const p of [waiting, spinning, term]) {
      assert.equal(k.procs.has(p.pid), false, `pid ${p.pid} reaped`);
      assert.deepEqual(owned(p.pid), [], `pid ${p.pid}'s segments freed`);
    }
    assert.equal(k.stats.memoryUsed, baseline);

    const ok = await node.run("exit_with", ["0"]);
    assert.equal(ok.status, 0, ok.reason);
  });
});

Deno.test("wait() reaps a killed and a crashed child: zombies until waited, then gone", async () => {
  await withNode(async (node) => {
    const k = node.kernel;
    const parent = node.spawn("sig_reaper");
    // The victim may print its own "ready" line first (when the reaper is slow to
    // kill it): take the reaper's lines by their keys, never by their position.
    const reaper = (key: string) => node.results().find((r) => key in r);
    await node.until(() => reaper("spinner") !== undefined, 10_000, "the reaper's children");
    const { spinner, crasher } = reaper("spinner");
    assert.equal(k.procs.get(spinner)?.state, "zombie", "killed but not yet waited");
    assert.deepEqual([...k.segments.values()].filter((s) => s.creator === spinner), []);

    k.signalProcess(parent, Sig.SIGHUP, 0); // handled: the reaper goes on to wait()
    await node.until(() => reaper("killed") !== undefined, 10_000, "the reaper's waits");
    const { killed, crashed } = reaper("killed");
    assert.deepEqual(killed, {
      pid: spinner,
      status: 137,
      reason: `killed by SIGKILL from pid ${parent.pid}`,
    });
    assert.equal(crashed.pid, crasher);
    assert.equal(crashed.status, 134);
    assert.match(crashed.reason, /deliberate failure/);
    assert.equal(parent.state, "running");
    assert.equal(k.procs.has(spinner), false);
    assert.equal(k.procs.has(crasher), false);
    assert.deepEqual([...parent.children], []);

    k.signalProcess(parent, Sig.SIGHUP, 0);
    const st = await node.exited(parent);
    assert.equal(st.status, 0, st.reason);
  });
});
