// Bench program: RPC on memory-based messaging (001 §5.2, Table 4). Started as
// "--server" it serves the bench service; otherwise it connects to the server on
// node HINT and measures null-rpc, rpc-32 and rpc-1k, each case tagged with PREFIX.
//
//   mbm_rpc --server
//   mbm_rpc quick|full HINT PREFIX

import { args, println } from "../../../userland/lib/mod.ts";
import { RpcClient, RpcServer } from "../../../userland/lib/ipc/rpc.ts";
import { measureAndReport } from "./bench_report.ts";

/** Stub 1 echoes its arguments (Send, Recv 32 bytes); stub 2 returns nothing. */
const ECHO = 1, SINK = 2;

function serve(): number {
  const server = new RpcServer("mbm-bench", {
    [ECHO]: (a, reply) => {
      reply.set(a);
      return a.length;
    },
    [SINK]: () => 0,
  });
  println("mbm server ready");
  server.serve();
  return 0;
}

function connect(hint: number): RpcClient {
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      return RpcClient.connect("mbm-bench", { hint, timeoutMs: 200 });
    } catch (e) {
      if (performance.now() > deadline) throw e;
    }
  }
}

export default async function main(): Promise<number> {
  const a = args();
  if (a[0] === "--server") return serve();
  const quick = a[0] === "quick";
  const prefix = a[2] ?? "";
  const c = connect(Number(a[1] ?? 0));
  const empty = new Uint8Array(0);
  const b32 = new Uint8Array(32).fill(0x5a);
  const b1k = new Uint8Array(1024).fill(0xa5);
  const cases: [string, number, Uint8Array][] = [
    ["null-rpc", SINK, empty],
    ["rpc-32", ECHO, b32],
    ["rpc-1k", SINK, b1k],
  ];
  // Warm up both ends (JIT, first-touch faults of every slot) before measuring.
  const warm = performance.now() + (quick ? 100 : 300);
  while (performance.now() < warm) for (const [, stub, arg] of cases) c.call(stub, arg);
  for (const [name, stub, arg] of cases) {
    await measureAndReport(
      (k) => {
        for (let i = 0; i < k; i++) c.call(stub, arg);
      },
      quick,
      prefix + name,
    );
  }
  println(`BENCHSTATS ${JSON.stringify(c.stats)}`);
  c.close();
  return 0;
}
