/**
 * The trap service's adaptive spin (kernel/trap/trap_service.ts), on a clock the
 * test moves: each reading of it advances 1 µs, so the service's spin ends after a
 * known number of scans, and the test decides how long each sleep appeared to last.
 */

import assert from "node:assert/strict";
import { hostClock } from "../kernel/host/clock.ts";
import type { Clock } from "../kernel/host_interface.ts";
import { TrapService } from "../kernel/trap/trap_service.ts";

/** The host's timers with a clock that the test moves (and that creeps on each read). */
function steppedClock(): Clock & { time: number; reads: number } {
  const c = {
    ...hostClock,
    time: 0,
    reads: 0,
    now: () => (c.reads++, c.time += 0.001),
  };
  return c;
}

/** Waits (with a deadline) until the service sleeps on its doorbell. */
async function asleep(s: TrapService): Promise<void> {
  const end = performance.now() + 5_000;
  while (!s.sleeping) {
    if (performance.now() > end) throw new Error("the trap service never slept");
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Rings the doorbell and waits until the service has woken and gone back to sleep. */
async function ring(s: TrapService, afterMs: number, clock: { time: number }): Promise<void> {
  await asleep(s);
  const woke = s.wakeups;
  clock.time += afterMs;
  s.kick();
  const end = performance.now() + 5_000;
  while (s.wakeups === woke) {
    if (performance.now() > end) throw new Error("the doorbell did not wake the service");
    await new Promise((r) => setTimeout(r, 1));
  }
  await asleep(s);
}

Deno.test("the trap service spins longer while the doorbell rings soon, and resets after", async () => {
  const clock = steppedClock();
  const s = new TrapService(50, clock);
  s.start();
  try {
    assert.equal(s.spinUs, 50);
    await ring(s, 0.01, clock); // 10 µs after it slept: the spin just missed
    assert.equal(Math.round(s.spinUs), 100);
    await ring(s, 0.05, clock);
    assert.equal(Math.round(s.spinUs), 200);
    for (let i = 0; i < 6; i++) await ring(s, 0.05, clock);
    assert.equal(Math.round(s.spinUs), 1000, "it stops growing at 1 ms");
    await ring(s, 10, clock); // a quiet spell
    assert.equal(Math.round(s.spinUs), 50, "back to the configured spin");
  } finally {
    s.stop();
  }
});

Deno.test("a block-only trap service never spins, however soon the doorbell rings", async () => {
  const clock = steppedClock();
  const s = new TrapService(0, clock);
  s.start();
  try {
    for (let i = 0; i < 3; i++) {
      await asleep(s);
      const before = clock.reads;
      await ring(s, 0.001, clock);
      // A spin would read the clock every 32 scans until 1 µs-per-read time ran out.
      assert.ok(clock.reads - before < 10, `${clock.reads - before} clock reads for one wake-up`);
    }
    assert.equal(s.spinUs, 0);
  } finally {
    s.stop();
  }
  // The same rings with a 50 µs spin: at least 50 reads each (the test can tell).
  const spun = steppedClock();
  const t = new TrapService(50, spun);
  t.start();
  try {
    await asleep(t);
    const before = spun.reads;
    await ring(t, 10, spun);
    assert.ok(spun.reads - before >= 50, `${spun.reads - before} clock reads`);
  } finally {
    t.stop();
  }
});

Deno.test("a trap service whose work arrives on the event loop keeps its configured spin", async () => {
  const clock = steppedClock();
  const s = new TrapService(50, clock);
  s.arrivesOnEventLoop(); // as the TCP transport does
  s.start();
  try {
    for (let i = 0; i < 3; i++) await ring(s, 0.001, clock);
    assert.equal(s.spinUs, 50);
  } finally {
    s.stop();
  }
});
