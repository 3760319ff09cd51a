/**
 * The RPC test server: `rpc_server.ts WHO SERVICE` serves the procedures of
 * rpc_common.ts's Stub under SERVICE until SIGTERM. RESULT lines carry {who}: first
 * {ready, ctl, node} (ctl: a control segment the test writes through the kernel, for
 * HOLD), then what SLOW and MARK report, and {final: stats} at the end.
 */

import {
  bind,
  CreateSegment,
  load32,
  nodeId,
  Sig,
  signalAddress,
  SignalHandler,
  SigWait,
} from "../../userland/lib/mod.ts";
import { type Procedure, RpcServer } from "../../userland/lib/ipc/rpc.ts";
import { report } from "./report.ts";
import { pattern, Stub } from "./rpc_common.ts";

export default function main(args: string[]): number {
  const [who, service] = args;
  const ctl = CreateSegment(4096);
  const ctlBase = bind(ctl);
  let counter = 0, echoes = 0, notes = 0, noteSum = 0, noteBytes = 0;
  const self: { server?: RpcServer } = {};
  const u32 = (a: Uint8Array) => new DataView(a.buffer, a.byteOffset, a.length).getUint32(0, true);
  const json = (value: unknown, reply: Uint8Array) => {
    const bytes = new TextEncoder().encode(JSON.stringify(value));
    reply.set(bytes);
    return bytes.length;
  };
  const procedures: Record<number, Procedure> = {
    [Stub.ECHO]: (a, reply) => {
      echoes++;
      if (a.length > reply.length) return a;
      reply.set(a);
      return a.length;
    },
    [Stub.BIG]: (a) => pattern(u32(a), 9),
    [Stub.INC]: (_a, reply) => {
      counter++;
      new DataView(reply.buffer).setUint32(0, counter, true);
      return 4;
    },
    [Stub.FAIL]: (a) => {
      throw new Error(`failed: ${new TextDecoder().decode(a)}`);
    },
    [Stub.SLOW]: () => {
      report({ who, slow: true });
      for (;;) SigWait(50); // in a handler: sleeps, runs nothing
    },
    [Stub.NOTE]: (a) => {
      notes++;
      noteBytes += a.length;
      noteSum += u32(a);
      return 0;
    },
    [Stub.STATS]: (_a, reply) =>
      json({ counter, echoes, notes, noteSum, noteBytes, stats: self.server!.stats }, reply),
    [Stub.HOLD]: () => {
      report({ who, holding: true });
      while (load32(ctlBase) === 0) SigWait(1);
      return 0;
    },
    [Stub.MARK]: () => {
      const s = self.server!.stats;
      report({ who, mark: true, badChecksums: s.badChecksums, calls: s.calls });
      return 0;
    },
  };
  const server = self.server = new RpcServer(service, procedures);
  let running = true;
  SignalHandler(signalAddress(Sig.SIGTERM), 4, () => running = false);
  report({ who, ready: true, ctl, node: nodeId() });
  server.serve(() => !running);
  report({ who, final: { counter, echoes, notes, noteSum, stats: server.stats } });
  server.close();
  return 0;
}
