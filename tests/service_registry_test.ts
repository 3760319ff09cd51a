/** The registry of well-known services (kernel/proc/service_registry.ts), alone. */

import assert from "node:assert/strict";
import { ServiceRegistry } from "../kernel/proc/service_registry.ts";
import { KernelError } from "../kernel/panic.ts";
import { errnoName } from "../kernel/abi/errors.ts";
import { Cap } from "../kernel/abi/layout.ts";
import type { Process } from "../kernel/proc/process.ts";

const proc = (pid: number, ppid: number, caps: number = Cap.SERVICE) =>
  ({ pid, ppid, caps, state: "running" }) as unknown as Process;

function errno(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError) return errnoName(e.errno);
    throw e;
  }
  return "ok";
}

Deno.test("a service has one holder; a second server is EBUSY until the first ends", () => {
  const r = new ServiceRegistry();
  const detached: string[] = [];
  const clerk = proc(2, 1);
  const pager = proc(3, 1);
  assert.equal(errno(() => r.checkAttach("names", clerk)), "ok");
  r.attach("names", clerk, { detach: () => detached.push("names") });
  r.attach("pager", clerk, { detach: () => detached.push("pager") });
  assert.equal(r.holder("names"), clerk);
  assert.equal(r.holds(clerk, "names"), true);
  assert.equal(r.holds(pager, "names"), false);
  assert.equal(errno(() => r.checkAttach("names", pager)), "EBUSY");

  r.release(pager); // holds nothing: nothing happens
  assert.deepEqual(detached, []);
  r.release(clerk);
  assert.deepEqual(detached.sort(), ["names", "pager"], "every role it held is let go");
  assert.equal(r.holder("names"), null);
  assert.equal(errno(() => r.checkAttach("names", pager)), "ok", "a successor may attach");
});

Deno.test("only a process holding the service capability may hold a service", () => {
  const r = new ServiceRegistry();
  assert.equal(errno(() => r.checkAttach("names", proc(9, 4, 0))), "EPERM");
  // An orphan (or --run's program) has init as its parent and still no capability.
  assert.equal(errno(() => r.checkAttach("names", proc(9, 1, 0))), "EPERM");
  assert.equal(errno(() => r.checkAttach("names", proc(9, 1, Cap.USER))), "EPERM");
  assert.equal(errno(() => r.checkAttach("names", proc(9, 1))), "ok");
  assert.equal(errno(() => r.checkAttach("names", proc(9, 4))), "ok", "a capability, not a pid");
});

Deno.test("a holder that is no longer running holds nothing", () => {
  const r = new ServiceRegistry();
  const clerk = proc(2, 1);
  r.attach("names", clerk, { detach: () => {} });
  (clerk as { state: string }).state = "zombie";
  assert.equal(r.holder("names"), null);
  assert.equal(errno(() => r.checkAttach("names", proc(5, 1))), "ok");
});
