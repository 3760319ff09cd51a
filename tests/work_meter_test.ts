/**
 * The benchmarks' meters (issue 14's server_cpu_us): a node's kernel busy time
 * (kernel/work_meter.ts), whose meters nest so that one node's work done inside
 * another's counts only for its own node, and a process's thread CPU time, which a
 * WorkerHost made with `threadCpu` reads from /proc (tests/thread_cpu_probe.ts).
 * The file server's LOAD over both is in files_dx_test.ts.
 */

import assert from "node:assert/strict";
import { WorkMeter } from "../kernel/work_meter.ts";
import { ManualClock } from "./manual_clock.ts";
import { DENO_RUN, denoCommand } from "./task_runner.ts";
import { withDeadline } from "./helpers.ts";

Deno.test("nested meters: the inner one's time is not the outer one's", () => {
  const clock = new ManualClock();
  const a = new WorkMeter(clock), b = new WorkMeter(clock);
  a.run(() => {
    clock.time += 2;
    b.run(() => {
      clock.time += 3;
      a.run(() => (clock.time += 1)); // back into a: a frame answered at once
      clock.time += 1;
    });
    clock.time += 4;
  });
  clock.time += 100; // between runs: nobody's
  assert.deepEqual([a.ms, b.ms], [7, 4]);
});

Deno.test("a meter stops when its work throws, and the enclosing one goes on", () => {
  const clock = new ManualClock();
  const a = new WorkMeter(clock), b = new WorkMeter(clock);
  a.run(() => {
    assert.throws(() =>
      b.run(() => {
        clock.time += 5;
        throw new Error("a bug in a handler");
      }), /a bug/);
    clock.time += 2;
  });
  clock.time += 50;
  assert.deepEqual([a.ms, b.ms], [2, 5]);
});

Deno.test("a WorkerHost with threadCpu reads each process's own thread CPU time", async () => {
  const child = new Deno.Command(await denoCommand(), {
    args: [
      ...DENO_RUN,
      "--allow-all",
      "tests/thread_cpu_probe.ts",
    ],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = await withDeadline(child.output(), 90_000, "thread_cpu_probe");
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  const line = text.split("\n").find((l) => l.startsWith("CPU "));
  assert.ok(line, text);
  const cpu = JSON.parse(line.slice(4));
  // 20 million iterations take hundreds of ms of CPU however busy the machine is;
  // the idle process's thread only started and went to sleep.
  assert.ok(cpu.spin > 20_000, `the spinner used ${cpu.spin} µs`);
  assert.ok(cpu.idle >= 0 && cpu.idle < cpu.spin, `idle ${cpu.idle} µs, spinner ${cpu.spin} µs`);
});
