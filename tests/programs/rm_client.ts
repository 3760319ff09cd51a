/**
 * Remote-memory client driven by a script: args[0] is a JSON list of steps, each
 * reported as one RESULT line {step, ...} with its value or its error code.
 *
 *   {op: "import", name, hint?, force?}          → {desc, size}
 *   {op: "write", desc?, off, data: number[], notify?, wait?, ms?}   → {seq} (waits for
 *                                                completion, up to ms: awaitRemote's default)
 *   {op: "block", desc?, off, count, fill}       → block WRITE of `count` bytes of `fill`
 *   {op: "read", desc?, off, count}              → {data: number[]}
 *   {op: "cas", desc?, off, old, new}            → {swapped}
 *   {op: "status"}                               → {errors, errno}
 *   {op: "counters"}                             → remoteCounters()
 *   {op: "nowait-write", desc?, off, data}       → issues and returns at once: {seq, done}
 *   {op: "sleep-until-errors", n}                → waits until n error completions
 *   {op: "close", desc?}                         → closeDescriptor: {closed: desc}
 *
 * `desc` defaults to the last imported descriptor.
 */
import {
  allocate,
  awaitRemote,
  bind,
  CAS,
  closeDescriptor,
  CreateSegment,
  importSegment,
  load32,
  READ,
  read,
  remoteCounters,
  remoteStatus,
  SysError,
  WRITE,
  write,
  writeBlock,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

export default function main(args: string[]): number {
  const steps = JSON.parse(args[0]);
  const local = CreateSegment(65536);
  const base = bind(local);
  let last = 0;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    const desc = s.desc ?? last;
    try {
      const before = remoteCounters();
      switch (s.op) {
        case "close":
          closeDescriptor(desc);
          report({ step: i, closed: desc });
          break;
        case "import": {
          const r = importSegment(s.name, {
            hint: s.hint,
            forceRemote: s.force,
            byNotify: s.notify,
          });
          last = r.desc;
          report({ step: i, ...r });
          break;
        }
        case "write": {
          const seq = WRITE(desc, s.off, new Uint8Array(s.data), s.notify ?? false);
          if (s.wait !== false) awaitRemote(before, s.ms);
          report({ step: i, seq });
          break;
        }
        case "nowait-write": {
          const seq = WRITE(desc, s.off, new Uint8Array(s.data));
          report({ step: i, seq, doneBefore: before.done });
          break;
        }
        case "block": {
          const src = allocate(s.count);
          write(src, new Uint8Array(s.count).fill(s.fill));
          writeBlock(desc, s.off, src, s.count);
          awaitRemote(before);
          report({ step: i, ok: true });
          break;
        }
        case "read": {
          READ(desc, s.off, s.count, local, 0);
          awaitRemote(before);
          report({ step: i, data: [...read(base, s.count)] });
          break;
        }
        case "cas": {
          CAS(desc, s.off, local, 64, s.old, s.new);
          awaitRemote(before);
          report({ step: i, swapped: load32(base + 64) });
          break;
        }
        case "status":
          report({ step: i, ...remoteStatus() });
          break;
        case "counters":
          report({ step: i, ...remoteCounters() });
          break;
        case "sleep-until-errors": {
          const end = performance.now() + 5_000;
          while (remoteCounters().errors < s.n && performance.now() < end) { /* spin */ }
          report({ step: i, ...remoteCounters() });
          break;
        }
        default:
          throw new Error(`unknown step ${s.op}`);
      }
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      report({ step: i, error: e.code });
    }
  }
  return 0;
}
