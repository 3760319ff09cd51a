/**
 * A procedure that is itself a client: its server ("outer") calls another server
 * ("inner") from inside the call, that is from a signal handler, where no signal
 * can run, so the library takes the inner reply from its slot.
 *
 *   rpc_nested inner | outer    serve until SIGTERM, after reporting {role, ready}
 *   rpc_nested client           calls outer once: {role, ok: [bytes]} or {role, err}
 */

import { Sig, signalAddress, SignalHandler } from "../../userland/lib/mod.ts";
import { RpcClient, RpcServer } from "../../userland/lib/ipc/rpc.ts";
import { report } from "./report.ts";

export default function main(args: string[]): number {
  const role = args[0];
  let running = true;
  SignalHandler(signalAddress(Sig.SIGTERM), 4, () => running = false);
  if (role === "inner") {
    const s = new RpcServer("inner", { 1: (a, r) => (r.set(a.map((x) => x + 1)), a.length) });
    report({ role, ready: true });
    s.serve(() => !running);
    return 0;
  }
  if (role === "outer") {
    const inner = RpcClient.connect("inner", { hint: 0 });
    const s = new RpcServer("outer", {
      1: (a, r) => {
        const x = inner.call(1, a); // inside the outer call's signal handler
        r.set(x);
        return x.length;
      },
    });
    report({ role, ready: true });
    s.serve(() => !running);
    return 0;
  }
  const c = RpcClient.connect("outer", { hint: 0, timeoutMs: 5000 });
  try {
    report({ role, ok: Array.from(c.call(1, new Uint8Array([7, 8]))) });
  } catch (e) {
    report({ role, err: String(e) });
  }
  c.close();
  return 0;
}
