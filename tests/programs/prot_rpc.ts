/**
 * Bystanders on an RPC connection (tests/protection_test.ts, issue 11 hole 8).
 *
 *   prot_rpc.ts client SERVICE HINT   connects; reports {who: "client", prefix}; on
 *                                     SIGHUP makes 20 echo calls and reports
 *                                     {who: "client", calls, ok}
 *   prot_rpc.ts snoop PREFIX HINT     a process sharing nothing with the connection:
 *                                     imports its two channels (names are public) and
 *                                     tries to attach, READ and WRITE them; reports
 *                                     {who: "snoop", node, q: {...}, r: {...}}
 *   prot_rpc.ts epclient SERVICE HINT the same for an endpoint connection (echo
 *                                     server): {who: "epclient", name}, then on
 *                                     SIGHUP 20 calls → {who: "epclient", calls, ok}
 *   prot_rpc.ts epsnoop NAME HINT     tries the client's end NAME and the server's
 *                                     NAME.s → {who: "epsnoop", node, client, server}
 *   prot_rpc.ts dqrecv NAME           a queue's receiver (8 slots of 64 bytes): takes
 *                                     20 messages → {who: "dqrecv", ok}
 *   prot_rpc.ts dqsend NAME HINT      its sender: {who: "dqsend", tx} (its counter's
 *                                     export), then on SIGHUP sends 20
 *   prot_rpc.ts dqsnoop TX HINT       tries the sender's counter → {who: "dqsnoop", ...}
 */

import {
  awaitRemote,
  bind,
  CreateSegment,
  getpid,
  importSegment,
  nodeId,
  READ,
  remoteCounters,
  WRITE,
} from "../../userland/lib/mod.ts";
import { attach } from "../../userland/lib/sys/memory.ts";
import { RpcClient } from "../../userland/lib/ipc/rpc.ts";
import { connectEndpoint } from "../../userland/lib/ipc/endpoint.ts";
import { QueueReceiver, QueueSender } from "../../userland/lib/ipc/dqueue.ts";
import { attempt, report, signalGate } from "./report.ts";
import { Stub } from "./rpc_common.ts";

function client(service: string, hint: number): number {
  const gate = signalGate();
  const c = RpcClient.connect(service, { hint, timeoutMs: 10_000 });
  // The first connection of this process (rpc.ts's channelPrefix).
  report({ who: "client", prefix: `rpc.${nodeId()}.${getpid().toString(36)}.1` });
  gate();
  let ok = 0;
  for (let i = 0; i < 20; i++) {
    const bytes = new TextEncoder().encode(`call ${i}`);
    const got = c.call(Stub.ECHO, bytes);
    if (new TextDecoder().decode(got) === `call ${i}`) ok++;
  }
  c.close();
  report({ who: "client", calls: 20, ok });
  return 0;
}

/** Every way in to one channel, by its code. */
function tryChannel(name: string, hint: number): Record<string, unknown> {
  const imported = attempt(() => importSegment(name, { hint }).desc);
  if (typeof imported === "string") return { imported };
  const desc = imported;
  const local = CreateSegment(4096);
  bind(local);
  const remote = (op: () => void) =>
    attempt(() => {
      const before = remoteCounters();
      op();
      awaitRemote(before);
      return "ok";
    });
  return {
    imported: "ok",
    attach: attempt(() => attach(desc)),
    read: remote(() => READ(desc, 0, 32, local, 0)),
    write: remote(() => WRITE(desc, 4064, new Uint8Array(32).fill(0x55))),
  };
}

function snoop(prefix: string, hint: number): number {
  report({
    who: "snoop",
    node: nodeId(),
    q: tryChannel(prefix + "q", hint),
    r: tryChannel(prefix + "r", hint),
  });
  return 0;
}

function epClient(service: string, hint: number): number {
  const gate = signalGate();
  const end = connectEndpoint(service, hint);
  // The first end of this process (endpoint.ts's connectEndpoint).
  report({ who: "epclient", name: `ep.${nodeId()}.${getpid().toString(36)}.1` });
  gate();
  let ok = 0;
  for (let i = 0; i < 20; i++) {
    const got = end.call(new TextEncoder().encode(`call ${i}`), 5_000);
    if (new TextDecoder().decode(got) === `call ${i}`) ok++;
  }
  end.close();
  report({ who: "epclient", calls: 20, ok });
  return 0;
}

function dqRecv(name: string): number {
  const q = new QueueReceiver(name, 8, 64);
  report({ who: "dqrecv", ready: true });
  let ok = 0;
  for (let i = 0; i < 20; i++) {
    const m = q.receive(10_000);
    if (m && m[0] === i) ok++;
  }
  report({ who: "dqrecv", ok });
  return 0;
}

function dqSend(name: string, hint: number): number {
  const gate = signalGate();
  const q = new QueueSender(name, 8, 64, hint);
  report({ who: "dqsend", tx: `dq.${name}.8x64.tx` });
  gate();
  for (let i = 0; i < 20; i++) q.send(new Uint8Array(64).fill(i), 10_000);
  return 0;
}

export default function main(args: string[]): number {
  const [mode, a, b] = args;
  if (mode === "dqrecv") return dqRecv(a);
  if (mode === "dqsend") return dqSend(a, Number(b));
  if (mode === "dqsnoop") {
    report({ who: "dqsnoop", node: nodeId(), tx: tryChannel(a, Number(b)) });
    return 0;
  }
  if (mode === "epclient") return epClient(a, Number(b));
  if (mode === "epsnoop") {
    const hint = Number(b);
    report({
      who: "epsnoop",
      node: nodeId(),
      client: tryChannel(a, hint),
      server: tryChannel(a + ".s", 0),
    });
    return 0;
  }
  if (mode === "client") return client(a, Number(b));
  if (mode === "snoop") return snoop(a, Number(b));
  throw new Error(`prot_rpc: unknown mode ${mode}`);
}
