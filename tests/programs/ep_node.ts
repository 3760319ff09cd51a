/**
 * Endpoints (002 §4.1): the simple transfer both ways, the RPC on it, and closing.
 *
 *   ep_node server NAME SIZE   an EventServer on NAME with SIZE-byte buffers: a request
 *                              starting 'e' is echoed, 'n' gets no answer, 't' gets two
 *                              (itself, then reversed), 's' an echo 300 ms later;
 *                              reports {ready}; SIGTERM ends it
 *   ep_node hangup             sends an 's' request to "ept" and exits at once
 *   ep_node client             calls "ept" and "ept.big" (node 0) and reports what came back
 *   ep_node die N              opens N connections to "ept", calls once on each and
 *                              exits without closing them
 *   ep_node pair ME PEER MODE  makes end pair.ME, connects to pair.PEER (node 0) and
 *                              plays MODE (see pair())
 */

import {
  nap,
  println,
  Sig,
  signalAddress,
  SignalHandler,
  SysError,
} from "../../userland/lib/mod.ts";
import { connectEndpoint, Endpoint, EventServer } from "../../userland/lib/ipc/endpoint.ts";
import { attempt, report } from "./report.ts";

function server(name: string, size: number): number {
  let running = true;
  SignalHandler(signalAddress(Sig.SIGTERM), 4, () => running = false);
  const s = new EventServer(name, (end, msg) => {
    if (msg[0] === 0x65) end.send(msg, 5_000);
    else if (msg[0] === 0x73) {
      const copy = msg.slice();
      nap(300); // a slow answer: the client may be gone by then
      end.send(copy, 5_000);
    } else if (msg[0] === 0x74) {
      end.send(msg, 5_000);
      end.send(msg.slice().reverse(), 5_000); // waits until the client took the first
    }
  }, size);
  report({ ready: name });
  s.serve(() => !running);
  return 0;
}

/** A message of `n` bytes starting with `cmd`, the rest a pattern. */
function message(cmd: string, n: number): Uint8Array {
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) m[i] = (i * 7 + n) & 0xff;
  m[0] = cmd.charCodeAt(0);
  return m;
}

const same = (a: Uint8Array | null, b: Uint8Array) =>
  a !== null && a.length === b.length && a.every((x, i) => x === b[i]);

function client(): number {
  const end = connectEndpoint("ept", 0, 4096);
  // Every size around the inline limit (40 bytes with both flags) and beyond.
  const sizes = [1, 10, 31, 32, 33, 36, 40, 41, 100, 1000, 4000, end.peerSize];
  const echoed = sizes.filter((n) => {
    const m = message("e", n);
    return same(end.call(m, 5_000), m);
  });
  // One-way messages the server never answers: each frees the buffer for the next.
  let oneWay = 0;
  for (let i = 0; i < 50; i++) if (end.send(message("n", 8), 5_000)) oneWay++;
  const afterOneWay = same(end.call(message("e", 16), 5_000), message("e", 16));
  // Two answers to one request: the second waits until we took the first.
  const t = message("t", 20);
  end.send(t, 5_000);
  const first = end.receive(5_000), second = end.receive(5_000);
  const two = same(first, t) && same(second, t.slice().reverse());
  // No answer: ETIMEDOUT, and the connection still works.
  const timeout = attempt(() => end.call(message("n", 4), 50));
  const afterTimeout = same(end.call(message("e", 64), 5_000), message("e", 64));
  // Larger than one frame (64 KiB): sent in pieces, the flags with the last.
  const big = connectEndpoint("ept.big", 0, 200_000);
  const m = message("e", 150_000);
  const bigEcho = same(big.call(m, 10_000), m);
  const tooBig = attempt(() => end.send(new Uint8Array(end.peerSize + 1), 100));
  end.close();
  big.close();
  report({ echoed, oneWay, afterOneWay, two, timeout, afterTimeout, bigEcho, tooBig });
  return 0;
}

/** Makes end pair.ME and connects it to pair.PEER (node 0), waiting for it to exist. */
function pairEnd(me: string, peer: string): Endpoint {
  const end = new Endpoint(`pair.${me}`, 256);
  for (let i = 0;; i++) {
    try {
      end.connect(`pair.${peer}`, 0);
      return end;
    } catch (e) {
      if (!(e instanceof SysError) || i > 2000) throw e;
      nap(5);
    }
  }
}

/**
 * The pair scenarios, by MODE:
 *   close   x takes one message and closes; y calls x (EPIPE), then sends (EPIPE)
 *   both    x and y each send, then receive, ten rounds at once: each owes the other
 *           an acknowledgement when it next sends, and must pay it before it waits
 *   blocked y sends twice; x takes nothing and closes: y's second send, waiting for
 *           a buffer that never frees, is woken by the close (EPIPE), not its timeout
 *   last    once x says it is connected, y sends one message and closes at once; x
 *           still takes it, then sees the close
 */
function pair(me: string, peer: string, mode: string): number {
  const end = pairEnd(me, peer);
  const x = me === "x";
  if (mode === "close") {
    if (x) {
      println(`x got ${end.receive(10_000)?.length}`);
      end.close();
      return 0;
    }
    const call = attempt(() => end.call(new Uint8Array([1, 2, 3]), 10_000));
    const send = attempt(() => end.send(new Uint8Array([4]), 1_000));
    report({ call, send, closed: end.peerClosed });
  } else if (mode === "both") {
    let rounds = 0;
    for (let r = 0; r < 10; r++) {
      const m = message("b", 16 + r);
      if (!end.send(m, 5_000)) break;
      const got = end.receive(5_000);
      if (!got || got.length !== 16 + r) break;
      rounds++;
    }
    report({ me, rounds });
    nap(200); // the peer may still wait for our last acknowledgement
  } else if (mode === "blocked") {
    if (x) {
      while (!end.ready) nap(1);
      end.close();
      return 0;
    }
    end.send(message("1", 8), 5_000);
    report({ me, second: attempt(() => end.send(message("2", 8), 60_000)) });
  } else if (mode === "last") {
    if (x) {
      end.send(message("r", 4), 5_000); // connected: y may go
      const got = end.receive(10_000);
      const after = end.receive(10_000);
      report({ me, last: got?.length, after, closed: end.peerClosed });
    } else {
      end.receive(10_000);
      end.send(message("l", 99), 5_000);
    }
  }
  end.close();
  return 0;
}

function die(n: number): number {
  for (let i = 0; i < n; i++) connectEndpoint("ept", 0, 64).call(message("e", 8), 5_000);
  return 0;
}

/** Sends a request its server answers slowly, and closes at once. */
function hangup(): number {
  const end = connectEndpoint("ept", 0, 64);
  end.send(message("s", 8), 5_000);
  end.close();
  return 0;
}

export default function main(args: string[]): number {
  if (args[0] === "server") return server(args[1], Number(args[2]));
  if (args[0] === "die") return die(Number(args[1]));
  if (args[0] === "pair") return pair(args[1], args[2], args[3] ?? "close");
  if (args[0] === "hangup") return hangup();
  return client();
}
