/**
 * An RPC client that keeps calling through a loss spike: `loss_rpc SERVICE HINT`.
 *
 * Reports {ctl} (a control segment the test reads and writes through the kernel),
 * connects to SERVICE (rpc_server's stubs) and then calls INC until control word 0
 * is nonzero, counting in its control segment: word 1 the calls that succeeded,
 * word 2 those that failed with ETIMEDOUT, word 3 other failures (word 4 the last
 * such code's errno), word 5 the successes since the last failure; while word 6 is
 * nonzero it makes no calls (the connection idles). Each call has a
 * short timeout (500 ms), so a call lost in the spike fails and the next one goes.
 * At the end it reports {done, ok, timedOut, other, last} and the client's stats.
 */

import { bind, CreateSegment, SysError, view32 } from "../../userland/lib/mod.ts";
import { RpcClient } from "../../userland/lib/ipc/rpc.ts";
import { report } from "./report.ts";
import { Stub } from "./rpc_common.ts";

export default function main(args: string[]): number {
  const [service, hint] = args;
  const ctl = CreateSegment(4096);
  const w = view32(bind(ctl), 1024);
  report({ ctl });
  const call = RpcClient.connect(service, { hint: Number(hint), timeoutMs: 500 });
  let last = 0;
  while (Atomics.load(w, 0) === 0) {
    if (Atomics.load(w, 6) !== 0) {
      Atomics.wait(w, 6, Atomics.load(w, 6), 20);
      continue;
    }
    try {
      const r = call.call(Stub.INC);
      last = new DataView(r.buffer, r.byteOffset, 4).getUint32(0, true);
      Atomics.add(w, 1, 1);
      Atomics.add(w, 5, 1);
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      Atomics.store(w, 5, 0);
      if (e.code === "ETIMEDOUT") Atomics.add(w, 2, 1);
      else {
        Atomics.add(w, 3, 1);
        Atomics.store(w, 4, e.errno);
      }
    }
  }
  report({
    done: true,
    ok: Atomics.load(w, 1),
    timedOut: Atomics.load(w, 2),
    other: Atomics.load(w, 3),
    last,
    stats: call.stats,
  });
  call.close();
  return 0;
}
