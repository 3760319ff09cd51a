/**
 * Regression tests for "Harden remote memory after review": each test shows one fixed
 * behaviour, and would fail on the code before it.
 *
 * - the name service's privileged calls (mailbox import, clerk attach) refuse users;
 * - the owner confines a clerk mailbox's writers to their own slot and caps READs;
 * - the issuer refuses replies that do not match the request and unknown NACK codes;
 * - the clerk survives an ask it cannot answer; init restarts a dead clerk, which is
 *   told the node's exports again;
 * - TCP: one HELLO per connection, a handshake deadline, mutual joins;
 * - a restarted peer fails what was outstanding to its old incarnation at once.
 *
 * In-process clusters forge frames on the emulated network; TCP cases run real node
 * subprocesses. Every wait has a deadline; nothing sleeps.
 */

import assert from "node:assert/strict";
import { Errno } from "../kernel/abi/errors.ts";
import { Ask, MAILBOX_SLOT_BYTES, WellKnown } from "../kernel/abi/names.ts";
import {
  decodeFrame,
  emptyFrame,
  encodeFrame,
  type Frame,
  FrameFlag,
  MAX_PAYLOAD,
} from "../kernel/remote/memory_frames.ts";
import { FrameType } from "../kernel/net/wire.ts";
import { buildControl } from "../kernel/net/control_frames.ts";
import type { Process } from "../kernel/proc/process.ts";
import { Trap } from "../kernel/abi/layout.ts";
import { TestCluster, withCluster, withDeadline } from "./helpers.ts";
import { until } from "./remote_helpers.ts";
import { node, WAIT_MS, withNodes } from "./tcp_nodes.ts";

const CLERK = new URL("../servers/names/mod.ts", import.meta.url).href;
const INIT = new URL("../userland/programs/init.ts", import.meta.url).href;

/** RESULT lines that have the key `key`. */
function resultsWith(c: TestCluster, key: string): any[] {
  return c.results().filter((r) => key in r);
}

async function exited(c: TestCluster, p: Process, ms = 15_000): Promise<number> {
  const st = await withDeadline(p.exited, ms, `pid ${p.pid} (${p.module}) to exit`);
  assert.equal(st.status, 0, `${st.reason}\n--- console ---\n${c.console.out}${c.console.err}`);
  return st.status;
}

/** Starts rm_owner exporting `name` on node `n`; waits until the export exists. */
async function owner(c: TestCluster, n: number, name: string): Promise<void> {
  c.spawn(n, "rm_owner", [name]);
  await until(c, () => c.node(n).exports.byName(name) !== undefined, `export ${name} on ${n}`);
}

/** Runs rm_client with `steps` on node `n`; returns its RESULT lines {step, …}. */
async function client(c: TestCluster, n: number, steps: unknown[]): Promise<any[]> {
  const seen = c.results().length;
  const p = c.spawn(n, "rm_client", [JSON.stringify(steps)]);
  await exited(c, p);
  return c.results().slice(seen).filter((r) => "step" in r);
}

/**
 * A fake node on the emulated network: forges frames from `id` and keeps what comes
 * back. `respond` may answer requests the cluster sends it (it runs inside delivery).
 */
function fakeNode(
  c: TestCluster,
  id: number,
  respond: (f: Frame, send: (fields: Partial<Frame>) => void) => void = () => {},
) {
  const got: Frame[] = [];
  const send = (fields: Partial<Frame>) =>
    c.cluster.network.send(
      id,
      fields.dstNode ?? 0,
      encodeFrame({ ...emptyFrame(), srcNode: id, dstNode: 0, ...fields }),
    );
  c.cluster.network.attach(id, (bytes) => {
    const f = decodeFrame(bytes);
    if (typeof f === "string") return; // the assertions below count frames
    got.push(f);
    respond(f, send);
  });
  let seq = 1000;
  return {
    got,
    send,
    /** Sends a request to node 0 and returns its one answer (delivery is synchronous). */
    ask(fields: Partial<Frame>): Frame {
      const before = got.length;
      const s = ++seq;
      send({ seq: s, ...fields });
      assert.equal(got.length, before + 1, `exactly one answer to ${JSON.stringify(fields)}`);
      const a = got[got.length - 1];
      assert.equal(a.seq, s, "the answer echoes the sequence");
      return a;
    },
  };
}

const nack = (a: Frame) => a.type === FrameType.NACK ? a.arg0 : `type ${a.type}`;

// ---------------------------------------------------------------------------
// 1. Privileged name-service calls

Deno.test("importWellKnown(MAILBOX) and clerkAttach from a user program are EPERM", async () => {
  await withCluster(async (c) => {
    // A user process on node 1 may read node 0's registry, never write its mailbox.
    await exited(c, c.spawn(1, "hard_priv", ["import", "0"]));
    const imp = resultsWith(c, "mailbox")[0];
    assert.equal(imp.mailbox, "EPERM", JSON.stringify(imp));
    assert.equal(typeof imp.registry, "number", JSON.stringify(imp));

    // Node 0's clerk dies: a user's program (a child of a program) may not take its place.
    const k0 = c.node(0);
    k0.signalProcess(c.clerks[0], 9, 0);
    await until(c, () => k0.clerk === null && k0.names === null, "node 0's clerk to be gone");
    await exited(c, c.spawn(0, "hard_priv", ["attach"]));
    const att = resultsWith(c, "attach")[0];
    assert.ok(att.ppid > 1, `the child's parent is a user program: ${JSON.stringify(att)}`);
    assert.equal(att.attach, "EPERM", JSON.stringify(att));
    assert.equal(resultsWith(c, "child")[0].status, 0);
    assert.equal(k0.clerk, null, "no rogue clerk");
    assert.equal(k0.names, null);

    // A clerk the host starts still attaches, and serves.
    const fresh = k0.spawn(CLERK, ["200"]);
    await until(c, () => k0.clerk === fresh && k0.names !== null, "a host-started clerk");
    await owner(c, 0, "priv");
    const r = await client(c, 1, [{ op: "import", name: "priv", hint: 0 }]);
    assert.equal(r[0].size, 8192, JSON.stringify(r[0]));
  });
});

// ---------------------------------------------------------------------------
// 2. The owner's checks: mailbox slots, READ size

Deno.test("mailbox WRITE from node n outside slot n is NACKed EPERM; READ > 64 KiB is EINVAL", async () => {
  await withCluster(async (c) => {
    const box = c.node(0).exports.get(WellKnown.MAILBOX)!;
    assert.ok(box, "node 0's mailbox export");
    const mem = box.segment.bytes;
    const fake = fakeNode(c, 5);
    const W = (offset: number, count = 4) => ({
      type: FrameType.WRITE,
      exportId: WellKnown.MAILBOX,
      offset,
      count,
      payload: new Uint8Array(count).fill(0xc5),
    });
    const slot5 = 5 * MAILBOX_SLOT_BYTES;
    const before = [...mem];
    assert.equal(nack(fake.ask(W(0))), Errno.EPERM, "slot 0 (node 0's own)");
    assert.equal(nack(fake.ask(W(4 * MAILBOX_SLOT_BYTES + 64))), Errno.EPERM, "slot 4");
    assert.equal(nack(fake.ask(W(6 * MAILBOX_SLOT_BYTES))), Errno.EPERM, "slot 6");
    assert.equal(nack(fake.ask(W(slot5 + 120, 16))), Errno.EPERM, "straddling slots 5 and 6");
    assert.equal(nack(fake.ask(W(slot5 - 4, 8))), Errno.EPERM, "straddling slots 4 and 5");
    assert.deepEqual([...mem], before, "no refused WRITE touched the mailbox");
    // Inside its own slot the fake node is served.
    const ok = fake.ask(W(slot5 + 8, 8));
    assert.equal(ok.type, FrameType.REPLY, `a WRITE into slot 5: ${nack(ok)}`);
    assert.deepEqual([...mem.subarray(slot5 + 8, slot5 + 16)], new Array(8).fill(0xc5));
    const whole = fake.ask(W(slot5, MAILBOX_SLOT_BYTES));
    assert.equal(whole.type, FrameType.REPLY, "the whole of slot 5");
    // READs of the mailbox are not confined to a slot.
    const rd = fake.ask({
      type: FrameType.READ,
      exportId: WellKnown.MAILBOX,
      offset: 0,
      count: 16,
    });
    assert.equal(rd.type, FrameType.REPLY);
    assert.equal(rd.payload.length, 16);

    // A 128 KiB export: a READ larger than a frame's payload is refused, not crashed on.
    c.spawn(0, "rm_script", [
      "big",
      JSON.stringify([
        { op: "segment", as: "big", size: 2 * MAX_PAYLOAD },
        { op: "export", seg: "big", name: "big" },
        { op: "serve" },
      ]),
    ]);
    await until(c, () => c.node(0).exports.byName("big") !== undefined, "the big export");
    const e = c.node(0).exports.byName("big")!;
    const R = (count: number) => ({
      type: FrameType.READ,
      exportId: e.id,
      genHi: e.genHi,
      genLo: e.genLo,
      offset: 0,
      count,
    });
    const bugsBefore = c.console.err.match(/kernel: bug/g)?.length ?? 0;
    assert.equal(nack(fake.ask(R(MAX_PAYLOAD + 1))), Errno.EINVAL);
    assert.equal(nack(fake.ask(R(2 * MAX_PAYLOAD))), Errno.EINVAL);
    const max = fake.ask(R(MAX_PAYLOAD));
    assert.equal(max.type, FrameType.REPLY, "a READ of exactly 64 KiB is served");
    assert.equal(max.payload.length, MAX_PAYLOAD);
    assert.equal(c.console.err.match(/kernel: bug/g)?.length ?? 0, bugsBefore, c.console.err);
  });
});

Deno.test("posted frames: a landed WRITE gets no answer, a posted READ is refused, and a forged refusal charges nobody who did not write there", async () => {
  await withCluster(async (c) => {
    const box = c.node(0).exports.get(WellKnown.MAILBOX)!;
    const fake = fakeNode(c, 5);
    const slot5 = 5 * MAILBOX_SLOT_BYTES;
    // A posted WRITE into its own slot lands and nothing comes back.
    let before = fake.got.length;
    fake.send({
      type: FrameType.WRITE,
      flags: FrameFlag.POSTED,
      seq: 77,
      exportId: WellKnown.MAILBOX,
      offset: slot5,
      count: 4,
      payload: new Uint8Array([9, 8, 7, 6]),
    });
    assert.equal(fake.got.length, before, "no REPLY to a posted WRITE");
    assert.deepEqual([...box.segment.bytes.subarray(slot5, slot5 + 4)], [9, 8, 7, 6]);
    // A posted READ is no such thing: refused, with the refusal marked posted.
    const rd = fake.ask({
      type: FrameType.READ,
      flags: FrameFlag.POSTED,
      srcPid: 42,
      exportId: WellKnown.MAILBOX,
      offset: 0,
      count: 4,
    });
    assert.deepEqual([rd.type, rd.arg0, rd.flags, rd.arg1], [
      FrameType.NACK,
      Errno.EINVAL,
      FrameFlag.POSTED,
      42,
    ]);
    // A refusal of a "posted WRITE" the clerk never made: dropped, nothing counted.
    await until(c, () => c.node(0).clerk !== null, "node 0's clerk");
    const clerk = c.node(0).clerk!;
    const errors = () => Atomics.load(clerk.trap, Trap.REMOTE_ERRORS);
    const e0 = errors(), orphans = c.node(0).remote.stats.orphanReplies;
    before = fake.got.length;
    fake.send({
      type: FrameType.NACK,
      flags: FrameFlag.POSTED,
      arg0: Errno.EPERM,
      arg1: clerk.pid,
      exportId: 4242,
    });
    assert.equal(errors(), e0, "the clerk counted no error");
    assert.equal(c.node(0).remote.stats.orphanReplies, orphans + 1, "the NACK was dropped");
    assert.equal(fake.got.length, before, "and not answered");
  });
});

// ---------------------------------------------------------------------------
// 3. The issuer's checks on answers

Deno.test("a READ reply of the wrong size completes EIO without writing past the deposit; NACK 999 is EIO", async () => {
  await withCluster(async (c) => {
    const k1 = c.node(1);
    const seen: Frame[] = [];
    fakeNode(c, 9, (f, send) => {
      if (f.type !== FrameType.READ) return;
      seen.push(f);
      const echo = {
        dstNode: f.srcNode,
        seq: f.seq,
        exportId: f.exportId,
        genHi: f.genHi,
        genLo: f.genLo,
        offset: f.offset,
      };
      if (f.offset === 0) {
        // 64 bytes for an 8-byte READ (the frame itself is consistent: count = 64).
        send({ ...echo, type: FrameType.REPLY, count: 64, payload: new Uint8Array(64).fill(0x55) });
      } else if (f.offset === 64) {
        send({ ...echo, type: FrameType.NACK, arg0: 999 });
      } else {
        // A reply for another offset is not this request's; then the right one.
        send({
          ...echo,
          offset: f.offset + 4,
          type: FrameType.REPLY,
          count: 8,
          payload: bytes(8, 0x66),
        });
        send({ ...echo, type: FrameType.REPLY, count: 8, payload: bytes(8, 0x77) });
      }
    });
    const orphans = k1.remote.stats.orphanReplies;
    await exited(c, c.spawn(1, "hard_forge_reply", ["9"]));
    const { reads } = resultsWith(c, "reads")[0];
    assert.deepEqual(seen.map((f) => [f.offset, f.count, f.exportId]), [
      [0, 8, WellKnown.REGISTRY],
      [64, 8, WellKnown.REGISTRY],
      [128, 8, WellKnown.REGISTRY],
    ]);
    const sentinel = new Array(128).fill(0xaa);
    // The oversized reply: an error completion, and the deposit is untouched.
    assert.equal(reads[0].error, "EIO", JSON.stringify(reads[0]));
    assert.equal(reads[0].errno, Errno.EIO);
    assert.deepEqual(reads[0].local, sentinel, "nothing deposited, least of all past 8 bytes");
    // The NACK with a code that is no errno.
    assert.equal(reads[1].error, "EIO", JSON.stringify(reads[1]));
    assert.equal(reads[1].errno, Errno.EIO, "not 999");
    assert.deepEqual(reads[1].local, sentinel);
    // The mismatched reply is an orphan; the matching one deposits exactly 8 bytes.
    assert.equal(reads[2].error, undefined, JSON.stringify(reads[2]));
    assert.equal(reads[2].errno, 0);
    const want = [...sentinel];
    want.fill(0x77, 16, 24);
    assert.deepEqual(reads[2].local, want);
    assert.equal(k1.remote.stats.orphanReplies, orphans + 1);
    assert.doesNotMatch(c.console.err, /kernel: bug/);
  });
});

function bytes(n: number, v: number): Uint8Array {
  return new Uint8Array(n).fill(v);
}

// ---------------------------------------------------------------------------
// 4. The clerk survives an ask it cannot answer

Deno.test("clerk answer() to an unreachable asker fails alone: the clerk keeps serving", async () => {
  await withCluster(async (c) => {
    const k0 = c.node(0);
    await owner(c, 0, "alive");
    const clerk = k0.clerk!;
    assert.equal(clerk, c.clerks[0]);
    const box = k0.exports.get(WellKnown.MAILBOX)!.segment;
    // An ask from node 9, which is not on the network: the answer cannot be sent.
    const name = new TextEncoder().encode("alive");
    const ask = new Uint8Array(64); // the request half of the slot
    const v = new DataView(ask.buffer);
    v.setUint32(Ask.STATE, 1, true);
    v.setUint32(Ask.NAME_LEN, name.length, true);
    ask.set(name, Ask.NAME);
    v.setUint32(Ask.NONCE, 0x600d, true);
    const slot9 = 9 * MAILBOX_SLOT_BYTES;
    const served = k0.remote.stats.served;
    c.cluster.network.send(
      9,
      0,
      encodeFrame({
        ...emptyFrame(),
        type: FrameType.WRITE,
        srcNode: 9,
        dstNode: 0,
        seq: 1,
        exportId: WellKnown.MAILBOX,
        offset: slot9,
        count: ask.length,
        flags: FrameFlag.NOTIFY,
        payload: ask,
      }),
    );
    assert.equal(k0.remote.stats.served, served + 1);
    assert.equal(Atomics.load(box.words, slot9 / 4), 1, "the ask landed in slot 9");
    // The clerk takes the ask (clears its state) and tries to answer node 9.
    await until(c, () => Atomics.load(box.words, slot9 / 4) === 0, "the clerk to take the ask");
    // It still serves: a local import, a remote one, and a lookup with notification.
    const local = await client(c, 0, [{ op: "import", name: "alive" }]);
    assert.equal(local[0].size, 8192, JSON.stringify(local[0]));
    const remote = await client(c, 1, [
      { op: "import", name: "alive", hint: 0, force: true },
      { op: "import", name: "alive", hint: 0, notify: true },
      { op: "read", off: 100, count: 4 },
    ]);
    assert.equal(remote[0].size, 8192, JSON.stringify(remote[0]));
    assert.equal(remote[1].size, 8192, JSON.stringify(remote[1]));
    assert.deepEqual(remote[2].data, [0x34, 0x12, 0, 0]);
    assert.equal(clerk.state, "running", "the same clerk is alive");
    assert.equal(k0.clerk, clerk);
  });
});

// ---------------------------------------------------------------------------
// 5. init restarts a dead clerk; the new one is told the node's exports

Deno.test("init restarts a killed clerk and the node's exports are importable again", async () => {
  const c = new TestCluster(2);
  try {
    for (const k of c.cluster.nodes) k.spawn(INIT, ["--serve"]);
    await until(c, () => c.cluster.nodes.every((k) => k.names !== null), "init's clerks");
    const k0 = c.node(0);
    const first = k0.clerk!;
    assert.equal(first.ppid, 1, "init started the clerk");
    await owner(c, 0, "svc");
    const before = await client(c, 0, [{ op: "import", name: "svc" }]);
    assert.equal(before[0].size, 8192, JSON.stringify(before[0]));

    k0.signalProcess(first, 9, 0);
    await until(
      c,
      () => k0.clerk !== null && k0.clerk !== first && k0.clerk.state === "running",
      "init to start a new clerk",
    );
    const second = k0.clerk!;
    assert.equal(second.ppid, 1);
    assert.notEqual(second.pid, first.pid);
    assert.match(c.console.out, /init: the name clerk ended: killed by SIGKILL/);

    // The new clerk's registry has the export the old one held.
    const same = await client(c, 0, [{ op: "import", name: "svc" }]);
    assert.equal(same[0].size, 8192, JSON.stringify(same[0]));
    const remote = await client(c, 1, [
      { op: "import", name: "svc", hint: 0, force: true },
      { op: "read", off: 100, count: 4 },
    ]);
    assert.equal(remote[0].size, 8192, JSON.stringify(remote[0]));
    assert.deepEqual(remote[1].data, [0x34, 0x12, 0, 0]);
  } finally {
    c.close();
    await new Promise((r) => setTimeout(r, 0));
  }
});

// ---------------------------------------------------------------------------
// 6. TCP

/** A handshake control frame (HELLO = 1) from node `from` with a 16-byte nonce. */
function hello(from: number, to: number): Uint8Array {
  return buildControl(from, to, 1, crypto.getRandomValues(new Uint8Array(16)));
}

/** Connects to `addr`, sends `data`, and resolves with the ms until the node hangs up. */
async function rawPeer(addr: { hostname: string; port: number }, data: Uint8Array) {
  const conn = await Deno.connect({ ...addr, transport: "tcp" });
  const t0 = performance.now();
  try {
    if (data.length) await conn.write(data);
    const buf = new Uint8Array(4096);
    const drain = (async () => {
      for (;;) {
        try {
          if ((await conn.read(buf)) === null) return;
        } catch {
          return; // reset: hung up all the same
        }
      }
    })();
    await withDeadline(drain, 10_000, "the node to close the raw connection");
    return performance.now() - t0;
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the peer
    }
  }
}

Deno.test("TcpTransport drops a connection that sends a second HELLO", async () => {
  await withNodes(async (nodes) => {
    const n1 = node(1, ["--serve"]);
    nodes.push(n1);
    const addr = await n1.netAddr();
    const twice = new Uint8Array([...hello(9, 1), ...hello(9, 1)]);
    await rawPeer(addr, twice);
    await n1.until(
      () => /dropped a TCP peer \(node 9\): a second HELLO on one connection/.test(n1.err),
      "the second-HELLO drop",
    );
    // Dropped at the second HELLO, not by the handshake timeout: the first drop of
    // node 9 the node reports names the second HELLO.
    const drops = n1.err.split("\n").filter((l) => l.includes("dropped a TCP peer (node 9)"));
    assert.match(drops[0], /a second HELLO on one connection/, drops.join("\n"));
    assert.doesNotMatch(n1.err, /node 9 joined|bug|panic/i);
  });
});

Deno.test("TcpTransport drops a connection that does not authenticate within 5 s", async () => {
  await withNodes(async (nodes) => {
    const n1 = node(1, ["--serve"]);
    nodes.push(n1);
    const addr = await n1.netAddr();
    // HELLO, then silence: never the AUTH the node waits for.
    const ms = await rawPeer(addr, hello(8, 1));
    await n1.until(
      () => /dropped a TCP peer \(node 8\): handshake timed out/.test(n1.err),
      "the handshake-deadline drop",
    );
    // Not before its deadline (a timer never fires early; load only makes it later);
    // how much later is bounded by the raw peer's deadline (10 s), not asserted.
    assert.ok(ms >= 4_500, `dropped after ${ms.toFixed(0)} ms`);
    assert.doesNotMatch(n1.err, /node 8 joined|bug|panic/i);
  });
});

/**
 * A relay in front of each of two nodes that holds the first connection it accepts
 * until both relays have one, then connects both through at once: two nodes that
 * --join each other (through the relays) run their handshakes at the same time.
 */
async function mutualJoin(): Promise<void> {
  const relays = [0, 1].map(() =>
    Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" })
  );
  const conns: Deno.Conn[] = [];
  const pipes: Promise<unknown>[] = [];
  await withNodes(async (nodes) => {
    try {
      // Node 1 joins node 2 through relay 1; node 2 joins node 1 through relay 0.
      const port = (i: number) => (relays[i].addr as Deno.NetAddr).port;
      const peer = (me: number, other: number, relay: number) =>
        node(me, [
          "--join",
          `127.0.0.1:${port(relay)}`,
          "--run",
          "tests/programs/hard_tcp_peer.ts",
          String(me),
          String(other),
        ]);
      const n1 = peer(1, 2, 1), n2 = peer(2, 1, 0);
      nodes.push(n1, n2);
      const [a1, a2] = await Promise.all([n1.netAddr(), n2.netAddr()]);
      const accepted = await withDeadline(
        Promise.all(relays.map((r) => r.accept())),
        WAIT_MS,
        "both nodes to join",
      );
      conns.push(...accepted);
      const targets = await Promise.all([a1, a2].map((a) => Deno.connect(a)));
      conns.push(...targets);
      for (let i = 0; i < 2; i++) {
        const swallow = () => {};
        pipes.push(accepted[i].readable.pipeTo(targets[i].writable).catch(swallow));
        pipes.push(targets[i].readable.pipeTo(accepted[i].writable).catch(swallow));
      }
      await n1.until(() => n1.results().length > 0, "node 1's READ of node 2");
      await n2.until(() => n2.results().length > 0, "node 2's READ of node 1");
      const r1 = n1.results()[0], r2 = n2.results()[0];
      assert.deepEqual([r1.size, r1.value], [4096, 0x1002], `${JSON.stringify(r1)}\n${n1.err}`);
      assert.deepEqual([r2.size, r2.value], [4096, 0x1001], `${JSON.stringify(r2)}\n${n2.err}`);
      assert.match(n1.err, /^node 1: node 2 joined$/m);
      assert.match(n2.err, /^node 2: node 1 joined$/m);
      assert.doesNotMatch(n1.err + n2.err, /already connected|dropped|bug|panic/i);
    } finally {
      for (const r of relays) r.close();
    }
  });
  for (const c of conns) {
    try {
      c.close();
    } catch {
      // closed by the pipe or the peer
    }
  }
  await withDeadline(Promise.all(pipes), 5_000, "the relays' pipes to end");
}

Deno.test("TcpTransport: two nodes joining each other at once both end up connected (3 rounds)", async () => {
  for (let round = 0; round < 3; round++) await mutualJoin();
});

// ---------------------------------------------------------------------------
// 7. A restarted peer

Deno.test("FailureDetector: a peer restart fails requests to the old incarnation with EHOSTDOWN at once", async () => {
  await withCluster(
    async (c) => {
      await owner(c, 0, "counter");
      const proc = c.spawn(1, "fd_client", [
        "rs",
        JSON.stringify([
          { op: "import", name: "counter", hint: 0 }, // 0
          { op: "write", off: 0, data: [1] }, // 1
          { op: "gate", n: 1 }, // 2: the test slows the link
          { op: "inflight", off: 8, data: [9, 9, 9, 9] }, // 3
          { op: "await-error", ms: 10_000 }, // 4
        ]),
      ]);
      const step = async (i: number) => {
        await until(c, () => c.results().some((r) => r.tag === "rs" && r.step === i), `step ${i}`);
        return c.results().find((r) => r.tag === "rs" && r.step === i);
      };
      await until(c, () => c.results().some((r) => r.tag === "rs" && "gate" in r), "the gate");
      const gateId = c.results().find((r) => r.tag === "rs" && "gate" in r).gate;
      assert.equal((await step(1)).ok, true);
      const k1 = c.node(1);
      const old = c.node(0).exports.incarnation;
      await until(c, () => k1.detector.peers.get(0)?.incarnation === old, "node 1 to hear node 0");

      c.cluster.network.setLink(0, 1, { latencyUs: 30_000_000 });
      const gate = k1.segments.get(gateId)!;
      Atomics.store(gate.words, 0, 1);
      Atomics.notify(gate.words, 0);
      const inflight = await step(3);
      assert.equal(inflight.errors, 0, JSON.stringify(inflight));
      assert.ok(k1.remote.outstanding >= 1, "the WRITE is in flight");
      c.cluster.network.setLink(0, 1, { latencyUs: 0 });

      const k0 = c.cluster.restart(0);
      assert.notEqual(k0.exports.incarnation, old);
      const err = await step(4);
      assert.deepEqual([err.errors, err.errno], [1, "EHOSTDOWN"], JSON.stringify(err));
      // At once: the first heartbeat from the new incarnation failed it (its error
      // completion is traced in the same step as "restarted"), not the failure
      // detector's 5 s of silence ("down") nor the request's own timeout (ETIMEDOUT).
      const log = c.console.err.split("\n").filter((l) => l.startsWith("[trace node1 remote]"));
      const restarted = log.findIndex((l) => l.endsWith("node 0 is restarted"));
      assert.ok(restarted >= 0, `node 1 saw the restart:\n${log.join("\n")}`);
      let first = restarted;
      while (first > 0 && /: EHOSTDOWN from node 0$/.test(log[first - 1])) first--;
      const failed = log.slice(first, restarted);
      assert.ok(
        failed.some((l) => l.includes(`pid ${proc.pid} `)),
        `the WRITE failed as the restart was seen:\n${log.join("\n")}`,
      );
      assert.ok(
        !log.slice(0, restarted).some((l) => l.endsWith("node 0 is down")),
        `never declared down first:\n${log.join("\n")}`,
      );
      assert.equal(k1.detector.peers.get(0)?.incarnation, k0.exports.incarnation);
      assert.equal(k1.detector.peers.get(0)?.up, true, "restarted, not down");
      await exited(c, proc);
    },
    2,
    // Node 1 traces its peers' changes and its error completions, in order.
    { heartbeatMs: 20, failAfterMs: 5_000, trace: new Set(["remote"] as const) },
  );
});
