/**
 * Memory system calls: CreateSegment, bind, unbind, release, grant, protect and the
 * MMU's page-fault trap (xv6 vm.c's role, with segments as the unit of sharing).
 */

import {
  Access,
  accessName,
  EXIT_KILLED_BASE,
  FAULT_ADDRESS,
  PAGE_MASK,
  PAGE_SHIFT,
  Rights,
  SegMode,
  Sig,
  Trap,
  USER_BASE,
  USER_TOP,
} from "../abi/layout.ts";
import { Errno } from "../abi/errors.ts";
import type { FaultOutcome } from "../memory/address_space.ts";
import type { Binding } from "../memory/binding.ts";
import { ExternalPager } from "../memory/pager_table.ts";
import type { Segment } from "../memory/segment.ts";
import { BLOCKED, type Reply } from "../trap/dispatch.ts";
import type { Handlers } from "../trap/trap_entry.ts";
import type { NodeParts } from "../parts.ts";
import { fail, hex, KernelError } from "../panic.ts";
import type { Process } from "../proc/process.ts";

type MemoryCalls =
  | "create_segment"
  | "bind"
  | "unbind"
  | "release"
  | "grant"
  | "protect"
  | "page_fault";

export function memoryHandlers(k: NodeParts): Handlers<MemoryCalls> {
  /** The segment `id` if `p` holds it with at least `rights`; fails otherwise. */
  const held = (p: Process, id: number, rights: number): Segment => {
    const seg = k.segments.get(id);
    if (!seg) fail("EBADF", `no segment ${id}`);
    const have = seg.holders.get(p.pid);
    if (have === undefined) fail("EPERM", `pid ${p.pid} does not hold segment ${id}`);
    if (rights & ~have) fail("EPERM", `segment ${id}: rights ${rights} exceed held ${have}`);
    return seg;
  };

  const shootdown = (p: Process) => Atomics.add(p.trap, Trap.TLB_EPOCH, 1);

  /**
   * A fault the process cannot continue from: deliver it to a handler (its trap fails
   * with EFAULT, through `failTrap`) or end the process.
   */
  const protectionFault = (
    p: Process,
    vaddr: number,
    access: number,
    why: string,
    failTrap: (text: string) => void = (text) => fail("EFAULT", text),
  ): Reply => {
    k.stats.protfaults++;
    p.counters.protfaults++;
    const text = `${why}: ${accessName(access)} ${access === Access.WRITE ? "to" : "of"} ${
      hex(vaddr)
    }`;
    k.tracer.trace("faults", `pid ${p.pid} ${text}`);
    if (p.handlers.lookup(FAULT_ADDRESS)) {
      p.trap[Trap.FAULT_VADDR] = vaddr;
      p.trap[Trap.FAULT_ACCESS] = access;
      failTrap(text);
      return BLOCKED;
    }
    k.procs.exit(p, EXIT_KILLED_BASE + Sig.SIGSEGV, text);
    return BLOCKED;
  };

  /** A page fault mapped: counted and traced; the trap's result (1 if it was filled). */
  const mapped = (p: Process, vaddr: number, filled: boolean): number => {
    p.counters.pagefaults++;
    k.stats.pagefaults++;
    if (filled) {
      p.counters.zeroFills++;
      k.stats.zeroFills++;
    }
    if (k.tracer.has("faults")) { // the line is not built when nobody reads it
      k.tracer.trace(
        "faults",
        `pid ${p.pid} page fault at ${hex(vaddr)}${filled ? " (zero-fill)" : ""}`,
      );
    }
    return filled ? 1 : 0;
  };

  /**
   * A fault on a page an external pager must supply: the trap waits (no deadline of
   * its own: the pager's request has one) and is handled again when the pager answers.
   * `busy`: no frame yet, only pages whose TLB shootdowns are not yet acknowledged
   * (EAGAIN from the frame table): it is handled again each millisecond, for up to
   * pagerTimeoutMs, and then fails with ENOMEM.
   */
  const awaitPager = (p: Process, vaddr: number, access: number, busy = false): Reply => {
    const w = k.traps.block(p);
    const b = p.space.find(vaddr)!; // "waiting" or "busy" came from a binding
    const filled = b.segment.present[(vaddr - b.vaddr) >>> PAGE_SHIFT] === 0; // not write-protect
    const until = k.clock.now() + k.config.pagerTimeoutMs;
    const retry = () => again(0, "");
    const again = (errno: number, reason: string) => {
      if (!w.pending) return;
      if (errno !== 0) {
        protectionFault(p, vaddr, access, `page fault: ${reason}`, (t) => w.fail(Errno.EFAULT, t));
        return;
      }
      let o: FaultOutcome;
      try {
        o = p.space.fault(vaddr, access, again);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        if (e.errno !== Errno.EAGAIN) w.fail(e.errno, e.message); // no frame for it (ENOMEM)
        else if (k.clock.now() < until) k.clock.setTimeout(retry, 1);
        else w.fail(Errno.ENOMEM, e.message);
        return;
      }
      if (o.kind === "waiting") return;
      if (o.kind === "mapped") w.complete(mapped(p, vaddr, filled));
      else protectionFault(p, vaddr, access, faultText(o), (t) => w.fail(Errno.EFAULT, t));
    };
    if (busy) {
      k.clock.setTimeout(retry, 1);
      return BLOCKED;
    }
    const o = p.space.fault(vaddr, access, again);
    if (o.kind !== "waiting") again(0, ""); // answered in between: handled at once
    else if (k.pagers.readingLocated(b.segment, (vaddr - b.vaddr) >>> PAGE_SHIFT)) w.soon();
    return BLOCKED;
  };

  /**
   * Writeback throttling (PagerTable.backlogged): the fault waits until the swap
   * pager takes a page, then is handled as if it came then (and may wait again).
   * Its deadline is the pager's: pagerTimeoutMs, then ENOMEM.
   */
  const throttle = (p: Process, vaddr: number, access: number): Reply => {
    const w = k.traps.block(p);
    const until = k.clock.now() + k.config.pagerTimeoutMs;
    const timer = k.clock.setTimeout(() => {
      if (w.pending) w.fail(Errno.ENOMEM, "the swap pager did not catch up with its page-outs");
    }, k.config.pagerTimeoutMs);
    const go = (ended: string) => {
      if (!w.pending) return;
      if (ended !== "") {
        k.clock.clearTimeout(timer);
        protectionFault(p, vaddr, access, `page fault: ${ended}`, (t) => w.fail(Errno.EFAULT, t));
        return;
      }
      if (k.pagers.backlogged(p) && k.clock.now() < until) return k.pagers.afterTake(go);
      k.clock.clearTimeout(timer);
      if (w.restart()) k.traps.serveTrap(p); // from the start: now not held back
    };
    k.pagers.afterTake(go);
    return BLOCKED;
  };

  return {
    create_segment: (p, [size, mode, unit, notifyPolicy]) => {
      const seg = k.segments.create(p.pid, { size, mode, unit, notifyPolicy });
      seg.anonymous = mode === SegMode.NORMAL; // a process's own memory: it may be swapped
      return seg.id;
    },

    bind: (p, [id, vaddr, rights]) => {
      if (!(rights & Rights.READ)) fail("EINVAL", `bind: rights ${rights} lack READ`);
      const seg = held(p, id, rights);
      let at = vaddr;
      if (at === 0) {
        at = p.space.choose(seg.size);
        if (at < 0) fail("ENOMEM", `no room for ${seg.size} bytes`);
      } else if ((at & PAGE_MASK) !== 0 || at < USER_BASE || at + seg.size > USER_TOP) {
        fail("EINVAL", `bind: ${hex(at)} is not a page-aligned user address for ${seg.size} bytes`);
      } else if (!p.space.isFree(at, seg.size)) {
        fail("EBUSY", `bind: ${hex(at)}+${seg.size} overlaps a binding`);
      }
      const { slot, fresh } = p.space.slotFor(seg);
      if (fresh) {
        p.handle!.grant({
          kind: "segment",
          slot,
          segment: seg.id,
          buffer: seg.buffer,
          directory: seg.directory.buffer,
        });
        Atomics.add(p.trap, Trap.GRANTS, 1);
        k.segments.handOver(seg, p.pid);
      }
      p.space.bind(seg, at, rights, slot);
      k.signals.refreshDirectory(seg);
      return at | 0;
    },

    unbind: (p, [vaddr]) => {
      const b = p.space.find(vaddr);
      if (!b || b.vaddr !== vaddr) fail("EINVAL", `unbind: no binding starts at ${hex(vaddr)}`);
      p.space.unbind(b);
      shootdown(p);
      k.signals.refreshDirectory(b.segment);
      k.segments.maybeFree(b.segment);
      return 0;
    },

    release: (p, [id]) => {
      const seg = held(p, id, 0);
      if (p.space.unbindSegment(seg)) {
        shootdown(p);
        k.signals.refreshDirectory(seg);
      }
      k.segments.drop(seg, p.pid);
      return 0;
    },

    grant: (p, [id, pid, rights]) => {
      const seg = held(p, id, rights);
      if (!k.procs.running(pid)) fail("ESRCH", `no process ${pid}`);
      k.segments.grant(seg, pid, rights);
      return 0;
    },

    protect: (p, [vaddr, len, rights]) => {
      if (rights !== 0 && rights !== Rights.READ && rights !== (Rights.READ | Rights.WRITE)) {
        fail("EINVAL", `protect: rights ${rights} must be 0, READ or READ|WRITE`);
      }
      const b: Binding | undefined = p.space.find(vaddr);
      if (!b || (vaddr & PAGE_MASK) !== 0 || vaddr + len > b.vaddr + b.size) {
        fail("EINVAL", `protect: ${hex(vaddr)}+${len} is not inside one binding`);
      }
      if (rights & ~b.rights) fail("EPERM", `protect: binding allows only ${b.rights}`);
      if (p.space.protect(b, vaddr, len, rights)) shootdown(p);
      return 0;
    },

    page_fault: (p, [vaddr, access]) => {
      if (access !== Access.READ && access !== Access.WRITE) {
        fail("EINVAL", `page_fault: access ${access}`);
      }
      const own = k.pagers.ownFault(p, vaddr, access); // it pages this segment itself
      if (own) {
        p.counters.pagefaults++;
        k.stats.pagefaults++;
        return own;
      }
      if (k.pagers.backlogged(p)) return throttle(p, vaddr, access);
      let o: FaultOutcome;
      try {
        o = p.space.fault(vaddr, access);
      } catch (e) {
        if (e instanceof KernelError && e.errno === Errno.EAGAIN) {
          return awaitPager(p, vaddr, access, true);
        }
        throw e;
      }
      if (o.kind === "mapped") return mapped(p, vaddr, o.filled);
      if (o.kind === "waiting") return awaitPager(p, vaddr, access);
      return protectionFault(p, vaddr, access, faultText(o, p.space.find(vaddr)?.segment));
    },
  };
}

/** The reason a fault that cannot be mapped gives. */
function faultText(o: FaultOutcome, seg?: Segment): string {
  switch (o.kind) {
    case "unmapped":
      return "protection fault: unmapped address";
    case "protection":
      return o.rights === 0 ? "protection fault: no access" : "protection fault: read-only page";
    default: {
      const pager = seg?.pager instanceof ExternalPager ? seg.pager : null;
      return pager
        ? `page fault: pager pid ${pager.proc.pid}${pager.ended ? " has ended" : " refused"}`
        : "page fault: the pager could not supply";
    }
  }
}
