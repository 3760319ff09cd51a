/**
 * remote_counter: the two-node demo of remote memory (000 §3.1). This process
 * exports a counter segment; a client it starts on another node (through that
 * node's exec server) reads, writes and CASes it, with and without notification.
 *
 *   run remote_counter [NODE] [N]      (client on NODE, default 1; N CAS increments)
 *
 * Layout of the counter segment: word 0 the counter, word 16 a value the client
 * writes, word 32 the client's "done" flag.
 */

import {
  args,
  awaitRemote,
  bind,
  CAS,
  CreateSegment,
  exit,
  exportSegment,
  importSegment,
  load32,
  nodeId,
  NotifyPolicy,
  println,
  READ,
  remoteCounters,
  SegMode,
  SegUnit,
  SignalHandler,
  SigWait,
  startOn,
  WRITE,
} from "../lib/mod.ts";

const COUNTER = 0, VALUE = 64, DONE = 128;
const NAME = "demo.counter";
const u32 = (v: number) => new Uint8Array(new Uint32Array([v]).buffer);

function owner(clientNode: number, n: number): number {
  // CONDITIONAL: a remote write notifies only when its notify bit is set.
  const segment = CreateSegment(4096, SegMode.NORMAL, SegUnit.CACHE_LINE, NotifyPolicy.CONDITIONAL);
  const base = bind(segment);
  let done = false;
  SignalHandler(base, 4096, (addr) => {
    println(`owner (node ${nodeId()}): notified of a write at +${addr - base}: ${load32(addr)}`);
    if (addr === base + DONE) done = true;
  });
  exportSegment(segment, NAME);
  startOn(clientNode, "userland/programs/remote_counter.ts", [
    "--client",
    String(nodeId()),
    String(n),
  ]);
  const deadline = performance.now() + 20_000;
  while (!done) if (SigWait(1_000) === 0 && performance.now() > deadline) exit(1, "no client");
  println(`owner: counter = ${load32(base + COUNTER)}, value = ${load32(base + VALUE)}`);
  return load32(base + COUNTER) === n ? 0 : 1;
}

function client(ownerNode: number, n: number): number {
  const { desc } = importSegment(NAME, { hint: ownerNode });
  const local = CreateSegment(4096);
  const at = bind(local);
  const step = (issue: () => void) => {
    const before = remoteCounters();
    issue();
    awaitRemote(before);
  };
  step(() => READ(desc, COUNTER, 4, local, 0));
  println(`client (node ${nodeId()}): READ counter = ${load32(at)}`);
  step(() => WRITE(desc, VALUE, u32(41))); // no notify bit: the owner is not told
  step(() => WRITE(desc, VALUE, u32(42), true)); // notify bit: the owner's handler runs
  let retries = 0;
  for (let i = 0; i < n; i++) {
    for (;;) {
      step(() => READ(desc, COUNTER, 4, local, 0));
      const old = load32(at);
      step(() => CAS(desc, COUNTER, local, 4, old, old + 1));
      if (load32(at + 4) === 1) break;
      retries++;
    }
  }
  println(`client: ${n} CAS increments (${retries} retries)`);
  step(() => WRITE(desc, DONE, u32(1), true));
  return 0;
}

export default function main(): number {
  const a = args();
  if (a[0] === "--client") return client(Number(a[1]), Number(a[2]));
  return owner(Number(a[0] ?? 1), Number(a[1] ?? 10));
}
