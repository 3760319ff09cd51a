// Bench program: 002 §5.3's experiments on endpoints, Tripwires and the event queue.
//
//   tripwire_bench --server       node 0: no-op EventServers ("twb", 64-byte buffers,
//                                 and "twb-big", 64 KiB, in a child) and a distributed
//                                 queue's receiver ("twb-stream", another child)
//   tripwire_bench quick|full     node 1: the client; reports, tagged with their case:
//     rtt-idle-N     a small request on a random one of N connections, with a gap
//                    (200 µs) after each so the server goes to sleep
//     rtt-busy-N     the same, back to back (one in flight)
//     reqs-per-s-N   a request in flight on every one of N connections at once
//     bw-single-S    S bytes one way, acknowledged, one at a time
//     bw-stream-S    S-byte writes streamed through the distributed queue's byte
//                    stream (the next starts without waiting for the first)

import { args, println, spawn } from "../../../userland/lib/mod.ts";
import { connectEndpoint, type Endpoint, EventServer } from "../../../userland/lib/ipc/endpoint.ts";
import { StreamReceiver, StreamSender } from "../../../userland/lib/ipc/dqueue.ts";
import { measureAndReport } from "./bench_report.ts";

const COUNTS = [1, 16, 256, 1024];
const SIZES = [64, 256, 1024, 4096, 16384, 65536];
const EMPTY = new Uint8Array(0);
/** The stream's ring: 256 KiB. */
const RING = 256 * 1024;
const NAP = new Int32Array(new SharedArrayBuffer(4));

/** The servers, one process each: small and large no-op endpoints, and the stream. */
function serve(role: string): number {
  if (role === "--server") {
    for (const r of ["--big", "--stream"]) spawn(new URL(import.meta.url).pathname, [r]);
  }
  if (role === "--stream") {
    const q = new StreamReceiver("twb-stream", RING);
    for (;;) q.read(65536, 60_000);
  }
  const big = role === "--big";
  const server = new EventServer(
    big ? "twb-big" : "twb",
    (end) => end.send(EMPTY, 1_000),
    big ? 65536 : 64,
  );
  println(`tripwire bench ${role} ready`);
  server.serve();
  return 0;
}

/** Connects, waiting for the server to come up (its name to be exported). */
function connect(service: string, size: number): Endpoint {
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      return connectEndpoint(service, 0, size);
    } catch (e) {
      if (performance.now() > deadline) throw e;
      Atomics.wait(NAP, 0, 0, 5);
    }
  }
}

export default async function main(): Promise<number> {
  const a = args();
  if (a[0].startsWith("--")) return serve(a[0]);
  const quick = a[0] === "quick";
  const ends: Endpoint[] = [];
  const small = new Uint8Array(32);
  const counts = quick ? [1, 16] : COUNTS;
  for (const n of counts) {
    while (ends.length < n) ends.push(connect("twb", 64));
    const pick = () => ends[(Math.random() * n) | 0];
    const one = (e: Endpoint) => {
      if (!e.send(small, 5_000) || !e.receive(5_000)) throw new Error("no reply");
    };
    await measureAndReport(
      (k) => {
        for (let i = 0; i < k; i++) {
          one(pick());
          Atomics.wait(NAP, 0, 0, 0.2); // the server sleeps between requests
        }
      },
      quick,
      `rtt-idle-${n}`,
    );
    await measureAndReport(
      (k) => {
        for (let i = 0; i < k; i++) one(pick());
      },
      quick,
      `rtt-busy-${n}`,
    );
    await measureAndReport(
      (k) => {
        // k requests, n at a time: one per connection, then every reply.
        for (let done = 0; done < k;) {
          const m = Math.min(n, k - done);
          for (let i = 0; i < m; i++) ends[i].send(small, 5_000);
          for (let i = 0; i < m; i++) if (!ends[i].receive(5_000)) throw new Error("no reply");
          done += m;
        }
      },
      quick,
      `reqs-per-s-${n}`,
    );
  }
  const big = connect("twb-big", 65536);
  let stream: StreamSender | null = null;
  for (const deadline = performance.now() + 30_000; !stream;) {
    try {
      stream = new StreamSender("twb-stream", RING, 0);
    } catch (e) {
      if (performance.now() > deadline) throw e;
      Atomics.wait(NAP, 0, 0, 5);
    }
  }
  for (const s of quick ? [64, 4096] : SIZES) {
    const msg = new Uint8Array(s);
    await measureAndReport(
      (k) => {
        for (let i = 0; i < k; i++) {
          if (!big.send(msg, 5_000) || !big.receive(5_000)) throw new Error("no ack");
        }
      },
      quick,
      `bw-single-${s}`,
    );
    await measureAndReport(
      (k) => {
        for (let i = 0; i < k; i++) {
          if (stream!.write(msg, 5_000) !== s) throw new Error("the stream stalled");
        }
      },
      quick,
      `bw-stream-${s}`,
    );
  }
  return 0;
}
