/**
 * The runtime's spin policy (userland/lib/rt/spin.ts), driven with made-up outcomes:
 * no clock, no threads, so every step of its adaptation is checked exactly.
 */

import assert from "node:assert/strict";
import { PROBE_EVERY, SpinPolicy, spinUntil } from "../userland/lib/rt/spin.ts";

/** One wait of a "success" policy: the budget it gets, then what its spin did. */
function wait(p: SpinPolicy, outcome: "miss" | number): number {
  const us = p.budget();
  if (outcome === "miss") p.missed();
  else p.hit(outcome);
  return us;
}

Deno.test("spin policy: a block-only node never spins, whatever it is told", () => {
  for (const adapt of ["success", "wake", "none"] as const) {
    const p = new SpinPolicy(0, { floorUs: 15, adapt });
    assert.equal(p.on, false);
    assert.equal(p.count, 0);
    assert.equal(p.us, 0);
    p.hit(10);
    p.blocked(10, true);
    assert.equal(p.budget(), 0);
    for (let i = 0; i < 3 * PROBE_EVERY; i++) assert.equal(wait(p, 14), 0);
    let probes = 0;
    assert.equal(spinUntil(p, () => (probes++, true)), false);
    assert.equal(probes, 0, "not even one probe");
  }
});

Deno.test("spin policy: the counted spin is the node's count, and can be left out", () => {
  assert.equal(new SpinPolicy(2000).count, 2000);
  assert.equal(new SpinPolicy(2000, { counted: false }).count, 0);
  assert.equal(new SpinPolicy(2000, { counted: false }).on, true);
  let probes = 0;
  assert.equal(spinUntil(new SpinPolicy(7), () => ++probes === 7), true);
  assert.equal(probes, 7);
});

Deno.test("spin policy (success): late hits grow the spin, to its bound", () => {
  const p = new SpinPolicy(2000, { floorUs: 15, maxUs: 60, adapt: "success" });
  assert.equal(p.us, 15);
  assert.equal(wait(p, 3), 15); // caught early: kept
  assert.equal(p.us, 15);
  assert.equal(wait(p, 12), 15); // caught in its second half: doubled
  assert.equal(p.us, 30);
  assert.equal(wait(p, 20), 30);
  assert.equal(p.us, 60);
  assert.equal(wait(p, 59), 60);
  assert.equal(p.us, 60, "never past maxUs");
});

Deno.test("spin policy (success): misses halve the spin to 0, then every 16th wait probes", () => {
  const p = new SpinPolicy(2000, { floorUs: 15, maxUs: 60, adapt: "success" });
  const given: number[] = [];
  for (let i = 0; i < 4; i++) given.push(wait(p, "miss"));
  assert.deepEqual(given, [15, 7.5, 3.75, 1.875]);
  assert.equal(p.us, 0);
  // At 0 it blocks at once, but looks again every PROBE_EVERY-th wait.
  const budgets: number[] = [];
  for (let i = 0; i < 2 * PROBE_EVERY; i++) budgets.push(wait(p, "miss"));
  const probes = budgets.map((us, i) => us > 0 ? i : -1).filter((i) => i >= 0);
  assert.deepEqual(probes, [PROBE_EVERY - 1, 2 * PROBE_EVERY - 1]);
  assert.ok(budgets.every((us) => us === 0 || us === 15));
  // A probe that wins brings the spin back.
  for (let i = 0; i < PROBE_EVERY - 1; i++) assert.equal(wait(p, "miss"), 0);
  assert.equal(wait(p, 2), 15);
  assert.equal(p.us, 15);
  assert.equal(wait(p, 1), 15);
});

Deno.test("spin policy (success): wake-ups do not lengthen it", () => {
  const p = new SpinPolicy(2000, { floorUs: 15, maxUs: 60, adapt: "success" });
  for (let i = 0; i < 10; i++) p.blocked(40, true);
  assert.equal(p.us, 15);
});

Deno.test("spin policy (wake): soon wake-ups by a peer double it; anything else ends it", () => {
  const p = new SpinPolicy(2000, { adapt: "wake", startUs: 50, maxUs: 1_000, soonUs: 500 });
  assert.equal(p.us, 0);
  assert.equal(p.blocked(80, true), 50);
  assert.equal(p.blocked(80, true), 100);
  assert.equal(p.blocked(300, true), 200);
  assert.equal(p.blocked(700, true), 400, "soon: within four spin times (800 µs)");
  assert.equal(p.blocked(10, true), 800);
  assert.equal(p.blocked(10, true), 1_000, "bounded");
  assert.equal(p.blocked(10, true), 1_000);
  assert.equal(p.blocked(10, true, false), 0, "woken by the kernel: ends the timed spin");
  assert.equal(p.blocked(10, true), 50);
  assert.equal(p.blocked(600, true), 0, "woken late");
  assert.equal(p.blocked(10, true), 50);
  assert.equal(p.blocked(10, false), 0, "timed out");
  // Hits and misses of its spin leave it alone.
  p.blocked(10, true);
  p.budget();
  p.missed();
  p.hit(49);
  assert.equal(p.us, 50);
  p.reset();
  assert.equal(p.us, 0);
});

Deno.test("spin policy (none): the floor, always", () => {
  // A floor above 0, and outcomes that would move a "success" or "wake" policy: a
  // late hit (success doubles), a miss (success halves), a soon wake-up (wake grows).
  const p = new SpinPolicy(2000, { floorUs: 15, maxUs: 60 });
  for (let i = 0; i < 4; i++) {
    p.blocked(10, true);
    wait(p, 14);
    wait(p, "miss");
  }
  assert.equal(p.us, 15);
  assert.equal(p.budget(), 15);
});
