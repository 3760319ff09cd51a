/**
 * Failure-detection client, scripted like rm_client but able to wait for the test:
 * args[0] is a tag copied into every RESULT line, args[1] a JSON list of steps.
 *
 * It first creates a one-page "gate" segment and reports {tag, gate: segmentId}.
 * The test opens the gate by storing a number in its first word (and notifying);
 * a `gate` step blocks until that word reaches `n`. This lets a test crash or
 * restart a node at an exact point of the script without sleeping.
 *
 *   {op: "import", name, hint?, force?}  → {desc, size}
 *   {op: "write", desc?, off, data}      → {ok} after the owner's answer
 *   {op: "read", desc?, off, count}      → {data}
 *   {op: "cas", desc?, off, old, new}    → {swapped}
 *   {op: "inflight", desc?, off, data}   → issues a WRITE and returns at once: {seq, done, errors}
 *   {op: "await-error", ms?}             → waits for an error completion: {errors, errno, desc}
 *   {op: "gate", n}                      → waits until the gate word is ≥ n: {gate}
 *   {op: "nodes"}                        → {nodes: info("nodes")}
 *   {op: "descriptors"}                  → {descriptors: info("descriptors")}
 *
 * A failing step reports {error: code}; `desc` defaults to the last import.
 */
import {
  awaitRemote,
  bind,
  CAS,
  CreateSegment,
  importSegment,
  info,
  load32,
  READ,
  read,
  remoteCounters,
  store32,
  SysError,
  view32,
  WRITE,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

const GATE_TIMEOUT_MS = 30_000;

export default function main(args: string[]): number {
  const tag = args[0];
  const steps = JSON.parse(args[1]);
  const gateSegment = CreateSegment(4096);
  const gateAt = bind(gateSegment);
  store32(gateAt, 0); // present before the test writes into it
  const gate = view32(gateAt, 1, true);
  const local = CreateSegment(4096);
  const base = bind(local);
  report({ tag, gate: gateSegment });
  let last = 0;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    const desc = s.desc ?? last;
    try {
      const before = remoteCounters();
      switch (s.op) {
        case "import": {
          const r = importSegment(s.name, { hint: s.hint, forceRemote: s.force });
          last = r.desc;
          report({ tag, step: i, ...r });
          break;
        }
        case "write":
          WRITE(desc, s.off, new Uint8Array(s.data));
          awaitRemote(before);
          report({ tag, step: i, ok: true });
          break;
        case "read":
          READ(desc, s.off, s.count, local, 0);
          awaitRemote(before);
          report({ tag, step: i, data: [...read(base, s.count)] });
          break;
        case "cas":
          CAS(desc, s.off, local, 64, s.old, s.new);
          awaitRemote(before);
          report({ tag, step: i, swapped: load32(base + 64) });
          break;
        case "inflight": {
          const seq = WRITE(desc, s.off, new Uint8Array(s.data));
          const c = remoteCounters();
          report({ tag, step: i, seq, done: c.done, errors: c.errors });
          break;
        }
        case "await-error": {
          // awaitRemote sleeps on the completion word, which error completions also
          // wake, and throws when one arrives; short rounds cover one that arrived
          // between our check and its start.
          const end = performance.now() + (s.ms ?? 10_000);
          while (remoteCounters().errors === 0 && performance.now() < end) {
            try {
              awaitRemote(remoteCounters(), 50);
            } catch (e) {
              if (!(e instanceof SysError)) throw e;
            }
          }
          const c = remoteCounters();
          report({
            tag,
            step: i,
            errors: c.errors,
            errno: c.errors ? new SysError(c.errno, "remote").code : "",
            desc: c.desc,
          });
          break;
        }
        case "gate": {
          const end = performance.now() + GATE_TIMEOUT_MS;
          for (let v = Atomics.load(gate, 0); v < s.n; v = Atomics.load(gate, 0)) {
            const left = end - performance.now();
            if (left <= 0) throw new Error(`gate ${s.n} not opened in ${GATE_TIMEOUT_MS} ms`);
            Atomics.wait(gate, 0, v, left);
          }
          report({ tag, step: i, gate: s.n });
          break;
        }
        case "nodes":
          report({ tag, step: i, nodes: info("nodes") });
          break;
        case "descriptors":
          report({ tag, step: i, descriptors: info("descriptors") });
          break;
        default:
          throw new Error(`unknown step ${s.op}`);
      }
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      report({ tag, step: i, error: e.code });
    }
  }
  return 0;
}
