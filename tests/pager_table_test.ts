/**
 * The pager table (kernel/memory/pager_table.ts) on its own, on a controlled clock:
 * one request per page whatever the waiters, the deadline to the millisecond, a full
 * event queue, the pager's death. No workers: processes are the fields it reads.
 */

import assert from "node:assert/strict";
import { fakePagerHost } from "./pager_host.ts";
import { Errno } from "../kernel/abi/errors.ts";
import {
  Access,
  EVENT_CAPACITY,
  EVENT_PAGE_BYTES,
  EventKind,
  EventPage,
  PAGE_FAULT_OWN,
  pageRequestInfo,
  PagerOp,
  Rights,
  SegMode,
  SegUnit,
} from "../kernel/abi/layout.ts";
import { AddressSpace } from "../kernel/memory/address_space.ts";
import { PagerTable } from "../kernel/memory/pager_table.ts";
import type { IssueTarget } from "../kernel/remote/remote_memory.ts";
import { Segment } from "../kernel/memory/segment.ts";
import type { Process } from "../kernel/proc/process.ts";
import { ServiceRegistry } from "../kernel/proc/service_registry.ts";
import { ManualClock } from "./manual_clock.ts";

function setup(timeoutMs = 100) {
  const clock = new ManualClock();
  const services = new ServiceRegistry();
  const pager = {
    pid: 5,
    state: "running",
    events: new Int32Array(new SharedArrayBuffer(EVENT_PAGE_BYTES)),
    space: new AddressSpace(5),
    trap: new Int32Array(1024),
  } as unknown as Process;
  const byPid = new Map([[5, pager]]);
  const table = new PagerTable(
    fakePagerHost(byPid, { clock, services, pagerTimeoutMs: timeoutMs }),
  );
  const seg = new Segment(1, 5, {
    size: 4 * 4096,
    mode: SegMode.NORMAL,
    unit: SegUnit.CACHE_LINE,
    notifyPolicy: 0,
  });
  seg.holders.set(5, 7);
  table.attach(pager, seg);
  const ends: [number, string][] = [];
  const waiter = (errno: number, reason: string) => void ends.push([errno, reason]);
  return { clock, services, pager, table, seg, ends, waiter };
}

/** The events in the pager's queue, as [kind, id, info]. */
function queued(p: Process): number[][] {
  const page = p.events!;
  const out = [];
  for (let i = 0; i < page[EventPage.TAIL]; i++) {
    const at = EventPage.ENTRIES + i * 4;
    out.push([page[at + 1], page[at + 2], page[at + 3]]);
  }
  return out;
}

Deno.test("PagerTable asks once per page however many wait, and tells each waiter once", () => {
  const { pager, table, seg, ends, waiter } = setup();
  assert.equal(seg.fault(2, Access.READ, waiter), "waiting");
  assert.equal(seg.fault(2, Access.WRITE, waiter), "waiting");
  assert.deepEqual(queued(pager), [[
    EventKind.PAGE_FAULT,
    1,
    pageRequestInfo(2, Access.READ, false),
  ]]);
  table.answer(pager, 1, 2, PagerOp.ZERO, 0);
  assert.deepEqual(ends, [[0, ""], [0, ""]]);
  assert.equal(seg.present[2], 1);
  assert.equal(seg.fault(2, Access.READ, waiter), "present");
  assert.equal(table.counts.requests, 1);
});

Deno.test("PagerTable fails a request at its deadline, not before, naming the pager", () => {
  const { clock, pager, table, seg, ends, waiter } = setup(100);
  seg.fault(0, Access.READ, waiter);
  clock.advance(99);
  assert.deepEqual(ends, []);
  clock.advance(1);
  assert.equal(ends.length, 1);
  assert.equal(ends[0][0], Errno.ETIMEDOUT);
  assert.match(ends[0][1], /pager pid 5 did not answer within 100 ms \(page 0 of segment 1\)/);
  assert.equal(clock.timers.size, 0);
  assert.throws(() => table.answer(pager, 1, 0, PagerOp.ZERO, 0), /was not asked for/);
});

Deno.test("PagerTable times an own fault's request only once another process waits for the page", () => {
  const { clock, pager, table, seg, ends, waiter } = setup(100);
  pager.space.bind(seg, 0x1000_0000, Rights.READ | Rights.WRITE, 1);
  const own = table.ownFault(pager, 0x1000_0000, Access.READ);
  assert.equal(own!.result, (1 << 2) | PAGE_FAULT_OWN);
  assert.equal(own!.result2, pageRequestInfo(0, Access.READ, false));
  assert.equal(clock.timers.size, 0); // its faulting thread is its pager: no deadline
  clock.advance(1000);
  assert.equal(seg.fault(0, Access.READ, waiter), "waiting"); // joins the own request
  assert.deepEqual(queued(pager), []); // no event: the pager is answering it already
  clock.advance(100);
  assert.deepEqual(ends.map(([e]) => e), [Errno.ETIMEDOUT]);
});

Deno.test("PagerTable forgets a dropped page's location: its next fault asks the pager", () => {
  const { pager, table, seg, waiter } = setup();
  seg.fault(0, Access.READ, waiter);
  table.answer(pager, 1, 0, PagerOp.ZERO, 0);
  const to = { node: 1, exportId: 2 } as unknown as IssueTarget; // a READ would throw here
  table.locate(pager, 1, 0, { to, descId: 3, offset: 0, writes: 0 });
  assert.equal(table.drop(pager, 1, 0, 1), 1);
  assert.equal(seg.present[0], 0);
  assert.equal(seg.fault(0, Access.READ, waiter), "waiting");
  assert.equal(queued(pager).length, 2); // asked of the pager, not read from the location
  assert.equal(table.counts.remoteIns, 0);
});

Deno.test("PagerTable fails a fault at once when the pager's event queue is full", () => {
  const { clock, pager, seg, ends, waiter } = setup();
  Atomics.store(pager.events!, EventPage.TAIL, EVENT_CAPACITY); // HEAD 0: full
  assert.equal(seg.fault(1, Access.READ, waiter), "failed");
  assert.equal(clock.timers.size, 0);
  assert.deepEqual(ends, []);
});

Deno.test("PagerTable fails every request of a pager that ends, at once, and later faults too", () => {
  const { clock, services, pager, seg, ends, waiter } = setup(60_000);
  seg.fault(0, Access.READ, waiter);
  seg.fault(3, Access.WRITE, waiter);
  services.release(pager);
  assert.deepEqual(ends.map(([e]) => e), [Errno.EFAULT, Errno.EFAULT]);
  assert.match(ends[0][1], /pager pid 5 ended/);
  assert.equal(clock.timers.size, 0);
  assert.equal(seg.fault(1, Access.READ, waiter), "failed");
});
