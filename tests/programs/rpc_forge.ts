/**
 * A client that speaks the RPC handshake by hand (userland/lib/ipc/rpc_client.ts
 * does it for a real one), for tests/rpc_test.ts:
 *
 *   rpc_forge.ts SERVICE HINT
 *       exports a pair of channels under another process's names (pid + 1000) and
 *       sends a CONNECT claiming that pid, then a pair under its own names with a
 *       CONNECT of its own; reports {forged, genuine}: whether each got its ACCEPT.
 *       The genuine one shows the hand-made CONNECT is one a server takes.
 */

import {
  attach,
  bind,
  CACHE_LINE_SIZE,
  CreateSegment,
  exportSegment,
  getpid,
  importSegment,
  nodeId,
  Rights,
  RPC_SLOT_BYTES,
  RPC_SLOTS,
  RpcKind,
  SegMode,
  SegUnit,
  SigWait,
  view32,
  write,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

/** The RPC library's message magic and trailer layout (userland/lib/ipc/_rpc_wire.ts). */
const MAGIC = 0x3143_5052, T_STUB = 1, T_KIND = 4, T_MAGIC = 7;

export default function main(args: string[]): number {
  const [service, hint] = args;
  const { desc } = importSegment(`rpc.${service}`, { hint: Number(hint) });
  const wk = bind(attach(desc), 0, Rights.READ | Rights.WRITE);
  const me = getpid();
  const channels = (pid: number, conn: number) => {
    const prefix = `rpc.${nodeId()}.${pid.toString(36)}.${conn.toString(36)}`;
    const make = (suffix: string, exported: number) => {
      const seg = CreateSegment(RPC_SLOTS * RPC_SLOT_BYTES, SegMode.MESSAGE, SegUnit.PAGE);
      const base = bind(seg, 0, Rights.READ | Rights.WRITE);
      exportSegment(seg, prefix + suffix, exported, { peer: desc });
      return base;
    };
    make("q", Rights.READ);
    return view32(make("r", Rights.READ | Rights.WRITE), RPC_SLOT_BYTES / 4);
  };
  const connect = (pid: number, conn: number, nonce: number, slot: number) => {
    const line = new Int32Array(CACHE_LINE_SIZE / 4);
    line.set([nonce, nodeId(), pid, conn, RpcKind.CONNECT]);
    line[T_MAGIC] = MAGIC;
    write(wk + slot * CACHE_LINE_SIZE, new Uint8Array(line.buffer));
  };
  const trailer = (RPC_SLOT_BYTES - CACHE_LINE_SIZE) / 4;
  const accepted = (rep: Int32Array, nonce: number) =>
    Atomics.load(rep, trailer + T_KIND) === RpcKind.ACCEPT &&
    Atomics.load(rep, trailer + T_STUB) === nonce;
  const forged = channels(me + 1000, 1000), genuine = channels(me, 1001);
  connect(me + 1000, 1000, 0x1111, 5);
  connect(me, 1001, 0x2222, 9);
  // CONNECTs are taken in the order they came: once the second is accepted, the
  // first has been dealt with.
  const deadline = performance.now() + 10_000;
  while (!accepted(genuine, 0x2222) && performance.now() < deadline) SigWait(5);
  report({ forged: accepted(forged, 0x1111), genuine: accepted(genuine, 0x2222) });
  return 0;
}
