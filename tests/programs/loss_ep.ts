/**
 * Endpoints over a lossy link (tests/loss_test.ts).
 *
 *   loss_ep server NAME SIZE       an EventServer echoing every request; reports
 *                                  {ctl}: word 0 counts the requests it served
 *   loss_ep client NAME SIZE N     connects ({connected}), waits for SIGHUP, makes
 *                                  N calls of varying sizes (up to SIZE, some longer
 *                                  than one frame) whose bytes name the call, and
 *                                  reports {calls, ok, wrong, errors, retransmits,
 *                                  duplicates}
 */

import {
  bind,
  CreateSegment,
  Sig,
  signalAddress,
  SignalHandler,
  SysError,
  view32,
} from "../../userland/lib/mod.ts";
import { connectEndpoint, EventServer } from "../../userland/lib/ipc/endpoint.ts";
import { report, signalGate } from "./report.ts";

const SIZES = [1, 8, 24, 100, 3000, 70_000, -1];

function payload(i: number, size: number): Uint8Array {
  const n = SIZES[i % SIZES.length] < 0 ? size : SIZES[i % SIZES.length];
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) out[k] = (i * 13 + k * 7) & 0xff;
  if (n >= 4) new DataView(out.buffer).setUint32(0, i, true);
  return out;
}

export default function main(args: string[]): number {
  const [role, name] = args;
  const size = Number(args[2]);
  if (role === "server") {
    const ctl = CreateSegment(4096);
    const w = view32(bind(ctl), 1024);
    let running = true;
    SignalHandler(signalAddress(Sig.SIGTERM), 4, () => running = false);
    const s = new EventServer(name, (end, msg) => {
      Atomics.add(w, 0, 1);
      end.send(msg, 5_000);
    }, size);
    report({ ctl });
    s.serve(() => !running);
    return 0;
  }
  const n = Number(args[3]);
  const end = connectEndpoint(name, 0, size);
  const go = signalGate();
  report({ connected: true });
  go();
  let ok = 0, wrong = 0, errors = 0;
  for (let i = 0; i < n; i++) {
    const req = payload(i, size);
    try {
      const rep = end.call(req, 10_000);
      if (rep.length === req.length && rep.every((b, k) => b === req[k])) ok++;
      else wrong++;
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      if (errors++ === 0) report({ firstError: e.message, at: i, retransmits: end.retransmits });
    }
  }
  report({ calls: n, ok, wrong, errors, retransmits: end.retransmits, duplicates: end.duplicates });
  end.close();
  return 0;
}
