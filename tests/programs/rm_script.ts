/**
 * Remote memory driven by a script, for owners and clients alike.
 *
 *   rm_script.ts WHO STEPS_JSON
 *
 * Every RESULT line carries {who: WHO}. The first one is {ctl}: the id of a one-page
 * control segment the test writes into (through the kernel's segment table) to pace
 * the script: step {op: "wait", word, value} polls control word `word` until the
 * test has stored `value` there. Each step then reports {step, op, ...} with its
 * values, or {step, op, error, at} where `at` says where it failed: "issue" (the trap
 * refused it), "completion" (the owner answered with an error, or no answer came),
 * or "lib" (the library refused it before any trap).
 *
 * Owner steps:
 *   {op: "segment", as, size?, policy?}        → {segment, vaddr}; its handler reports
 *                                                 {notified: offset, addr, seg}
 *   {op: "store", seg, off, value}              store32 into a local segment
 *   {op: "export", seg, name, rights?, nodes?, pids?}   → {exportId}
 *   {op: "revoke", name} / {op: "inhibit", name, on}
 *   {op: "serve"}                               handles notifications until killed
 * Client steps (`d` is an import's label, or a raw descriptor number):
 *   {op: "import", name, hint?, force?, as?}    → {desc, size}
 *   {op: "write", d, off, data | len+seed, notify?}     waits for the completion
 *   {op: "write-raw", d, off, count}            the WRITE trap with a forged count
 *   {op: "block", d, off, count, seed}          block WRITE of pattern(seed) bytes
 *   {op: "read", d, off, count}                 → {data}
 *   {op: "cas", d, off, old, new}               → {swapped} (the deposited word)
 *   {op: "nowait-write", d, off, data}          → {seq, doneBefore, doneAfter}
 *   {op: "await"}                               waits for the last nowait-write → {done}
 *   {op: "status"} / {op: "counters"}
 *   {op: "casinc", d, off, n}                   n increments by READ + CAS loops
 *   {op: "spray", d, n}                         n 8-byte WRITEs of slot patterns to
 *                                                offsets 8i, never waiting
 *   {op: "until-stale", d}                      WRITEs until one fails at issue
 */
import { Trap } from "../../kernel/abi/layout.ts";
import {
  bind,
  CAS,
  CreateSegment,
  exportSegment,
  importSegment,
  load32,
  NotifyPolicy,
  READ,
  read,
  remoteCounters,
  remoteStatus,
  revoke,
  RIGHTS_ALL,
  SegMode,
  SegUnit,
  SignalHandler,
  SigWait,
  store32,
  Sys,
  SysError,
  trap,
  trapPage,
  WRITE,
  write,
  writeBlock,
  writeInhibit,
} from "../../userland/lib/mod.ts";
import { pattern, slotPattern } from "./rm_patterns.ts";
import { report } from "./report.ts";

const POLICY: Record<string, number> = {
  always: NotifyPolicy.ALWAYS,
  never: NotifyPolicy.NEVER,
  conditional: NotifyPolicy.CONDITIONAL,
};

class Failed extends Error {
  constructor(readonly code: string, readonly at: string) {
    super(`${code} at ${at}`);
  }
}

const trapWords = trapPage();

/** Waits for the completion of the request issued after `before`: done or an error. */
function complete(before: { done: number; errors: number }, ms = 5_000): void {
  const deadline = performance.now() + ms;
  for (;;) {
    const done = Atomics.load(trapWords, Trap.REMOTE_DONE);
    if (((done - before.done - 1) | 0) >= 0) return;
    if (Atomics.load(trapWords, Trap.REMOTE_ERRORS) !== before.errors) {
      const errno = Atomics.load(trapWords, Trap.REMOTE_ERRNO);
      throw new Failed(new SysError(errno, "remote").code, "completion");
    }
    const left = deadline - performance.now();
    if (left <= 0) throw new Failed("ETIMEDOUT", "completion");
    Atomics.wait(trapWords, Trap.REMOTE_DONE, done, Math.min(left, 50));
  }
}

/** Issues with `issue` (a trap) and waits for its completion. */
function issueAndWait(issue: () => number): number {
  const before = remoteCounters();
  let seq: number;
  try {
    seq = issue();
  } catch (e) {
    if (e instanceof SysError) throw new Failed(e.code, "issue");
    throw e;
  }
  complete(before);
  return seq;
}

/** Runs notification handlers until the process is killed. */
function serve(): never {
  for (;;) SigWait(60_000);
}

export default function main(args: string[]): number {
  const who = args[0];
  const steps = JSON.parse(args[1]);
  const out = (v: Record<string, unknown>) => report({ who, ...v });

  const ctlSeg = CreateSegment(4096);
  const ctl = bind(ctlSeg);
  store32(ctl, 0); // present before the test writes into it
  const localSeg = CreateSegment(65536);
  const local = bind(localSeg);
  store32(local, 0);
  out({ ctl: ctlSeg, local: localSeg });

  const segs = new Map<string, { id: number; base: number }>();
  const exports = new Map<string, number>();
  const descs = new Map<string, number>();
  const desc = (d: unknown) => typeof d === "number" ? d : descs.get(String(d)) ?? -1;
  let lastBefore = { done: 0, errors: 0 };

  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    const r = (v: Record<string, unknown> = {}) => out({ step: i, op: s.op, ...v });
    try {
      switch (s.op) {
        case "segment": {
          const size = s.size ?? 8192;
          const id = CreateSegment(
            size,
            SegMode.NORMAL,
            SegUnit.CACHE_LINE,
            POLICY[s.policy ?? "never"],
          );
          const base = bind(id);
          segs.set(s.as, { id, base });
          SignalHandler(base, size, (addr) => out({ notified: addr - base, addr, seg: s.as }));
          r({ segment: id, vaddr: base });
          break;
        }
        case "store":
          store32(segs.get(s.seg)!.base + s.off, s.value);
          r();
          break;
        case "export": {
          const id = exportSegment(segs.get(s.seg)!.id, s.name, s.rights ?? RIGHTS_ALL, {
            nodes: s.nodes,
            pids: s.pids,
          });
          exports.set(s.name, id);
          r({ exportId: id });
          break;
        }
        case "revoke":
          revoke(s.name);
          r({ ok: true });
          break;
        case "inhibit":
          writeInhibit(s.exportId ?? exports.get(s.name) ?? -1, s.on);
          r({ ok: true });
          break;
        case "serve":
          r();
          return serve();
        case "wait": {
          const deadline = performance.now() + (s.ms ?? 12_000);
          while (load32(ctl + 4 * s.word) !== s.value) {
            if (performance.now() > deadline) throw new Failed("timeout", "wait");
            SigWait(2);
          }
          r();
          break;
        }
        case "import": {
          const got = importSegment(s.name, { hint: s.hint, forceRemote: s.force });
          descs.set(s.as ?? s.name, got.desc);
          r(got);
          break;
        }
        case "write": {
          const data = new Uint8Array(s.data ?? pattern(s.seed ?? 0, s.len));
          const seq = issueAndWait(() => WRITE(desc(s.d), s.off, data, s.notify ?? false));
          r({ seq });
          break;
        }
        case "write-raw": {
          const seq = issueAndWait(() => trap(Sys.remote_write, desc(s.d), s.off, s.count, 0));
          r({ seq });
          break;
        }
        case "block": {
          const src = bind(CreateSegment(Math.max(4096, s.count)));
          write(src, new Uint8Array(pattern(s.seed ?? 0, s.count)));
          const seq = issueAndWait(() => writeBlock(desc(s.d), s.off, src, s.count));
          r({ seq });
          break;
        }
        case "read": {
          issueAndWait(() => READ(desc(s.d), s.off, s.count, localSeg, 0));
          r({ data: [...read(local, s.count)] });
          break;
        }
        case "cas": {
          store32(local + 64, 0x5eed); // neither 0 nor 1: the deposit must overwrite it
          issueAndWait(() => CAS(desc(s.d), s.off, localSeg, 64, s.old, s.new));
          r({ swapped: load32(local + 64) });
          break;
        }
        case "nowait-write": {
          lastBefore = remoteCounters();
          const seq = WRITE(desc(s.d), s.off, new Uint8Array(s.data));
          const doneAfter = remoteCounters().done;
          r({ seq, doneBefore: lastBefore.done, doneAfter });
          break;
        }
        case "await":
          complete(lastBefore);
          r({ done: remoteCounters().done });
          break;
        case "status":
          r(remoteStatus());
          break;
        case "counters":
          r({ ...remoteCounters() });
          break;
        case "casinc": {
          let attempts = 0, failures = 0;
          for (let n = 0; n < s.n; n++) {
            issueAndWait(() => READ(desc(s.d), s.off, 4, localSeg, 0));
            let seen = load32(local);
            for (;;) {
              attempts++;
              store32(local + 64, 0x5eed);
              issueAndWait(() => CAS(desc(s.d), s.off, localSeg, 64, seen, seen + 1));
              if (load32(local + 64) === 1) break;
              failures++;
              issueAndWait(() => READ(desc(s.d), s.off, 4, localSeg, 0));
              seen = load32(local);
            }
          }
          r({ attempts, failures });
          break;
        }
        case "spray": {
          let issued = 0, issueErrors = 0;
          for (let n = 0; n < s.n; n++) {
            try {
              WRITE(desc(s.d), 8 * n, new Uint8Array(slotPattern(n)));
              issued++;
            } catch (e) {
              if (!(e instanceof SysError)) throw e;
              issueErrors++;
            }
          }
          r({ issued, issueErrors, ...remoteCounters() });
          break;
        }
        case "until-stale": {
          const deadline = performance.now() + (s.ms ?? 10_000);
          let attempts = 0, completionErrors = 0;
          for (;;) {
            attempts++;
            try {
              issueAndWait(() => WRITE(desc(s.d), 0, new Uint8Array([9])));
            } catch (e) {
              if (!(e instanceof Failed)) throw e;
              if (e.at === "issue") {
                r({ error: e.code, at: e.at, attempts, completionErrors });
                break;
              }
              completionErrors++;
            }
            if (performance.now() > deadline) throw new Failed("timeout", "until-stale");
            SigWait(5);
          }
          break;
        }
        default:
          throw new Error(`unknown step ${s.op}`);
      }
    } catch (e) {
      if (e instanceof Failed) r({ error: e.code, at: e.at });
      else if (e instanceof SysError) r({ error: e.code, at: "issue" });
      else throw e;
    }
  }
  return 0;
}
