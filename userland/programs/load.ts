/**
 * A load client for servers/echo: opens several endpoints to it and keeps one
 * request in flight on each, all at once (002 §5.3).
 *
 *   load [--node N] [--service S] [--endpoints E] [--requests R] [--size B]
 *
 * Sends R requests of B bytes on each of E endpoints (round by round: a request
 * on every endpoint, then every reply), checks every echo, and prints the request
 * rate and the mean round trip. Exits 1 if an echo was wrong or missing.
 */

import { parseArgs } from "node:util";
import { connectEndpoint, type Endpoint, println } from "../lib/mod.ts";

export default function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      node: { type: "string", default: "0" },
      service: { type: "string", default: "echo" },
      endpoints: { type: "string", default: "4" },
      requests: { type: "string", default: "100" },
      size: { type: "string", default: "32" },
    },
    strict: true,
  });
  const [node, e, r, size] = [values.node, values.endpoints, values.requests, values.size].map(
    Number,
  );
  if (![node, e, r, size].every((x) => Number.isInteger(x) && x >= 0) || e < 1) {
    println("load: --node, --endpoints, --requests and --size take whole numbers");
    return 2;
  }
  const ends: Endpoint[] = [];
  for (let i = 0; i < e; i++) ends.push(connectEndpoint(values.service!, node, Math.max(size, 4)));
  const msg = new Uint8Array(size);
  let bad = 0;
  const t0 = performance.now();
  for (let round = 0; round < r; round++) {
    for (let i = 0; i < e; i++) {
      msg.fill((round + i) & 0xff);
      if (!ends[i].send(msg, 5_000)) bad++;
    }
    for (let i = 0; i < e; i++) {
      const reply = ends[i].receive(5_000);
      if (!reply || (reply.length && reply[0] !== ((round + i) & 0xff))) bad++;
    }
  }
  const ms = performance.now() - t0;
  for (const end of ends) end.close();
  const total = e * r;
  println(
    `load: ${total} requests on ${e} endpoints in ${ms.toFixed(1)} ms: ` +
      `${Math.round(total / (ms / 1000))} requests/s, ${(ms * 1000 / r).toFixed(1)} µs a round` +
      (bad ? `, ${bad} wrong or missing` : ""),
  );
  return bad ? 1 : 0;
}
