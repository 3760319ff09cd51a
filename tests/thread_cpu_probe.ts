/**
 * Run by tests/work_meter_test.ts with --allow-all (Deno lets nothing less read a
 * thread's /proc entry): one node on a WorkerHost that finds its workers' threads;
 * a process that spins a fixed amount of work and one that sleeps; prints
 * `CPU {"spin": µs, "idle": µs}`, each process's `cpuUs` once the spinner is done.
 */

import { Kernel } from "../kernel/kernel.ts";
import { MemoryConsole } from "../kernel/host/console.ts";
import { WorkerHost } from "../kernel/host/worker_host.ts";

const program = (name: string) => new URL(`./programs/${name}.ts`, import.meta.url).href;
const console_ = new MemoryConsole();
const k = new Kernel(new WorkerHost({ threadCpu: true }), console_, { spinUs: 0, processSpin: 0 });
const idle = k.spawn(program("cpu_spin"), ["idle"]);
const spin = k.spawn(program("cpu_spin"), ["spin", "20000000"]);
const deadline = performance.now() + 60_000;
while (!console_.out.includes('"spun":true')) {
  if (performance.now() > deadline) throw new Error(`no spin:\n${console_.out}${console_.err}`);
  await new Promise((r) => setTimeout(r, 10));
}
const cpu = { spin: spin.handle!.cpuUs!(), idle: idle.handle!.cpuUs!() };
console.log(`CPU ${JSON.stringify(cpu)}`);
k.halt();
