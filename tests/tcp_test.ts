/**
 * Nodes in separate Deno processes joined over TCP on loopback (`deno task node`):
 * remote memory between them, HMAC authentication with the cluster secret, a peer
 * that breaks the framing or talks before authenticating, a second process with a
 * node id already connected, a joiner rejoining a restarted node, and the CLI's
 * usage errors.
 *
 * Every node is a real subprocess; the first listens on port 0 and the test reads
 * the port it got from its "listening on" line as stderr streams. Every wait has a
 * deadline and every subprocess is killed in `finally`.
 */

import assert from "node:assert/strict";
import { withDeadline } from "./helpers.ts";
import { node, nodeAt, NodeProc, SECRET, spawnNode, WAIT_MS, withNodes } from "./tcp_nodes.ts";
import { FrameType, WIRE_MAGIC } from "../kernel/net/wire.ts";
import { emptyFrame, encodeFrame } from "../kernel/remote/memory_frames.ts";
import { buildControl } from "../kernel/net/control_frames.ts";

const decoder = new TextDecoder();

/**
 * Node 1 serving "counter" with rm_owner (listening on `listen`, by default a port of
 * its choosing); returns its address and export id.
 */
async function owner(
  nodes: NodeProc[],
  listen = "127.0.0.1:0",
): Promise<{ n1: NodeProc; addr: string; exportId: number }> {
  const n1 = nodeAt(1, listen, ["--run", "tests/programs/rm_owner.ts", "counter"]);
  nodes.push(n1);
  const addr = await n1.address();
  await n1.until(() => n1.results().some((r) => "exported" in r), "rm_owner's export");
  const exportId = n1.results().find((r) => "exported" in r).exported;
  return { n1, addr, exportId };
}

/** A node that joins `addr` and runs rm_client with `steps`; waits for its exit. */
async function client(
  nodes: NodeProc[],
  id: number,
  addr: string,
  steps: unknown[],
  secret = SECRET,
): Promise<{ n: NodeProc; code: number; results: any[] }> {
  const n = node(id, [
    "--join",
    addr,
    "--run",
    "tests/programs/rm_client.ts",
    JSON.stringify(steps),
  ], secret);
  nodes.push(n);
  const code = await n.exited();
  return { n, code, results: n.results() };
}

const READ_100 = { op: "read", off: 100, count: 4 }; // rm_owner stored 0x1234 there

Deno.test("two nodes over TCP: import, WRITE, READ and CAS between processes", async () => {
  await withNodes(async (nodes) => {
    const { n1, addr } = await owner(nodes);
    const steps = [
      { op: "import", name: "counter", hint: 1 }, // 0
      { op: "write", off: 0, data: [1, 2, 3, 4] }, // 1
      { op: "read", off: 0, count: 4 }, // 2
      READ_100, // 3
      { op: "cas", off: 0, old: 0x04030201, new: 7 }, // 4: succeeds
      { op: "cas", off: 0, old: 0x04030201, new: 9 }, // 5: fails, the word is 7
      { op: "read", off: 0, count: 4 }, // 6
      { op: "counters" }, // 7
      { op: "status" }, // 8
    ];
    const { n, code, results } = await client(nodes, 2, addr, steps);
    assert.equal(code, 0, n.err);
    assert.deepEqual(results[0], { step: 0, desc: 1, size: 8192 });
    assert.equal(results[1].step, 1);
    assert.equal(results[1].error, undefined);
    assert.ok(Number.isInteger(results[1].seq) && results[1].seq > 0);
    assert.deepEqual(results[2], { step: 2, data: [1, 2, 3, 4] });
    assert.deepEqual(results[3], { step: 3, data: [0x34, 0x12, 0, 0] });
    assert.deepEqual(results[4], { step: 4, swapped: 1 });
    assert.deepEqual(results[5], { step: 5, swapped: 0 });
    assert.deepEqual(results[6], { step: 6, data: [7, 0, 0, 0] });
    assert.deepEqual(results[7], { step: 7, done: 6, errors: 0, errno: 0, desc: 0 });
    assert.deepEqual(results[8], { step: 8, errors: 0, errno: 0 });
    assert.equal(results.length, 9);
    assert.match(n.err, /^node 2: node 1 joined$/m);
    await n1.until(() => /^node 1: node 2 joined$/m.test(n1.err), "node 2 to join node 1");
    assert.doesNotMatch(n1.err + n.err, /dropped|bug|panic/i);
  });
});

Deno.test("a peer with the wrong secret is rejected; the node keeps serving the right ones", async () => {
  await withNodes(async (nodes) => {
    const { n1, addr } = await owner(nodes);
    const bad = await client(
      nodes,
      2,
      addr,
      [{ op: "import", name: "counter", hint: 1 }],
      "wrong secret!",
    );
    assert.equal(bad.code, 0, bad.n.err);
    assert.equal(bad.results.length, 1);
    assert.ok(
      ["ETIMEDOUT", "EHOSTDOWN"].includes(bad.results[0].error),
      `import through an unauthenticated peer: ${JSON.stringify(bad.results[0])}`,
    );
    await n1.until(
      () => /dropped a TCP peer \(node 2\): node 2 failed authentication/.test(n1.err),
      "node 1 to reject node 2",
    );
    assert.doesNotMatch(n1.err, /node 2 joined/);
    assert.doesNotMatch(bad.n.err, /node 1 joined/);

    const good = await client(nodes, 3, addr, [
      { op: "import", name: "counter", hint: 1 },
      READ_100,
      { op: "write", off: 8, data: [3, 3] },
      { op: "read", off: 8, count: 2 },
    ]);
    assert.equal(good.code, 0, good.n.err);
    assert.deepEqual(good.results, [
      { step: 0, desc: 1, size: 8192 },
      { step: 1, data: [0x34, 0x12, 0, 0] },
      { step: 2, seq: good.results[2].seq },
      { step: 3, data: [3, 3] },
    ]);
    await n1.until(() => /^node 1: node 3 joined$/m.test(n1.err), "node 3 to join node 1");
  });
});

/** Opens a raw TCP connection to `addr`, sends `bytes`, and reads until node 1 hangs up. */
async function rawPeer(addr: string, bytes: Uint8Array): Promise<number> {
  const [hostname, port] = [
    addr.slice(0, addr.lastIndexOf(":")),
    addr.slice(addr.lastIndexOf(":") + 1),
  ];
  const conn = await Deno.connect({ hostname, port: Number(port), transport: "tcp" });
  try {
    await conn.write(bytes);
    // Node 1 sent its HELLO; after dropping us it closes the connection.
    let received = 0;
    const buf = new Uint8Array(4096);
    const drain = (async () => {
      for (;;) {
        let n: number | null;
        try {
          n = await conn.read(buf);
        } catch {
          return received; // reset rather than closed: hung up all the same
        }
        if (n === null) return received;
        received += n;
      }
    })();
    return await withDeadline(drain, WAIT_MS, "node 1 to close the raw connection");
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the peer
    }
  }
}

Deno.test("malformed frames from a raw TCP peer are dropped with a reason; the node keeps serving", async () => {
  await withNodes(async (nodes) => {
    const { n1, addr, exportId } = await owner(nodes);
    const drops = () => [...n1.err.matchAll(/dropped a TCP peer: (.*)$/gm)].map((m) => m[1]);

    // 1. A header whose length field can never be a frame.
    const badLength = new Uint8Array(16);
    const v = new DataView(badLength.buffer);
    v.setUint16(0, WIRE_MAGIC, true);
    v.setUint8(2, 1);
    v.setUint8(3, FrameType.CONTROL);
    v.setUint32(4, 3, true);
    await rawPeer(addr, badLength);
    await n1.until(() => drops().includes("broken framing"), "the bad-length drop");

    // 2. Garbage of a plausible length: framed, but not a frame.
    const garbage = new Uint8Array(64).fill(0xa5);
    new DataView(garbage.buffer).setUint32(4, garbage.length, true);
    await rawPeer(addr, garbage);
    await n1.until(
      () => drops().includes("unauthenticated peer sent bad-magic"),
      "the garbage drop",
    );

    // 3. A well-formed frame with a broken checksum.
    const corrupt = buildControl(9, 1, 1, new Uint8Array(16)).slice();
    corrupt[corrupt.length - 1] ^= 0xff;
    await rawPeer(addr, corrupt);
    await n1.until(
      () => drops().includes("unauthenticated peer sent bad-checksum"),
      "the checksum drop",
    );

    // 4. A valid WRITE into the export before authenticating: dropped, not performed.
    const write = emptyFrame();
    write.type = FrameType.WRITE;
    write.srcNode = 9;
    write.dstNode = 1;
    write.seq = 1;
    write.exportId = exportId;
    write.offset = 100;
    write.count = 4;
    write.payload = new Uint8Array([0xee, 0xee, 0xee, 0xee]);
    await rawPeer(addr, encodeFrame(write));
    await n1.until(() => drops().includes("unauthenticated peer sent data"), "the early-data drop");

    // The node still serves a correct peer, and the forged WRITE changed nothing.
    const good = await client(nodes, 3, addr, [
      { op: "import", name: "counter", hint: 1 },
      READ_100,
      { op: "cas", off: 100, old: 0x1234, new: 0x4321 },
      READ_100,
    ]);
    assert.equal(good.code, 0, good.n.err);
    assert.deepEqual(good.results, [
      { step: 0, desc: 1, size: 8192 },
      { step: 1, data: [0x34, 0x12, 0, 0] },
      { step: 2, swapped: 1 },
      { step: 3, data: [0x21, 0x43, 0, 0] },
    ]);
    assert.equal(drops().length, 4, n1.err);
    assert.doesNotMatch(n1.err, /bug|panic/i);
  });
});

const count = (text: string, re: RegExp) => text.match(re)?.length ?? 0;

Deno.test("a second process with node id 2 is refused while node 2's link answers; that link keeps working", async () => {
  await withNodes(async (nodes) => {
    const { n1, addr } = await owner(nodes);
    const n2 = node(2, [
      "--join",
      addr,
      "--run",
      "tests/programs/rm_watch.ts",
      "counter",
      "1",
      "200",
    ]);
    nodes.push(n2);
    await n2.until(() => n2.results().some((r) => "imported" in r), "node 2's import");

    // The impostor holds the secret and claims id 2: refused, on both sides, with the reason.
    const imp = await client(nodes, 2, addr, [{ op: "import", name: "counter", hint: 1 }]);
    assert.equal(imp.code, 0, imp.n.err);
    assert.ok(
      ["EHOSTDOWN", "ETIMEDOUT"].includes(imp.results[0]?.error),
      `import through a refused link: ${JSON.stringify(imp.results)}\n${imp.n.err}`,
    );
    const reason = /node 2 is already connected \(incarnation [0-9a-f]{8}\) and its link answers/;
    assert.match(n1.err, new RegExp(`refused a TCP peer \\(node 2\\): ${reason.source}`));
    assert.match(imp.n.err, new RegExp(`node 1 refused this node: ${reason.source}`));
    assert.match(imp.n.err, new RegExp(`not rejoining ${addr}`));
    assert.doesNotMatch(imp.n.err, /node 1 joined/);

    // It has left. A third node writes the word node 2 has been READing all along.
    const n3 = await client(nodes, 3, addr, [
      { op: "import", name: "counter", hint: 1 },
      { op: "write", off: 200, data: [7, 0, 0, 0] },
    ]);
    assert.equal(n3.code, 0, n3.n.err);
    assert.equal(n3.results[1].error, undefined, JSON.stringify(n3.results));
    assert.equal(await n2.exited(), 0, n2.err);
    const seen = n2.results().find((r) => "value" in r);
    assert.equal(seen?.value, 7, `${JSON.stringify(n2.results())}\n${n2.err}`);
    assert.equal(seen.errors, 0, "no READ of node 2's failed while the impostor came and went");
    // One link all along: node 1 took node 2 once and never dropped it.
    assert.equal(count(n1.err, /node 2 joined/g), 1, n1.err);
    assert.doesNotMatch(n1.err, /dropped a TCP peer \(node 2\)|bug|panic/i);
    assert.doesNotMatch(n2.err, /dropped|lost|refused|bug|panic/i);
  });
});

/**
 * A relay to `target` for one connection that, when its client hangs up, keeps the
 * target's side open and silent: a peer gone without the target seeing its link close.
 */
function silentRelay(target: string): { addr: string; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const conns: Deno.Conn[] = [];
  (async () => {
    const client = await listener.accept();
    const [hostname, port] = target.split(":");
    const server = await Deno.connect({ hostname, port: Number(port), transport: "tcp" });
    conns.push(client, server);
    const keep = { preventClose: true, preventCancel: true, preventAbort: true };
    client.readable.pipeTo(server.writable, keep).catch(() => {});
    server.readable.pipeTo(client.writable, keep).catch(() => {});
  })().catch(() => {});
  return {
    addr: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close: () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed already
        }
      }
    },
  };
}

Deno.test("a restarted node whose old link has not been seen to close is admitted once that link fails to answer", async () => {
  await withNodes(async (nodes) => {
    const { n1, addr } = await owner(nodes);
    const relay = silentRelay(addr);
    try {
      const steps = [{ op: "import", name: "counter", hint: 1 }, READ_100];
      const first = await client(nodes, 2, relay.addr, steps);
      assert.deepEqual(first.results[1], { step: 1, data: [0x34, 0x12, 0, 0] }, first.n.err);
      // Node 2 has ended; node 1 still holds its link open. Node 2 comes back.
      const again = await client(nodes, 2, addr, steps);
      assert.equal(again.code, 0, again.n.err);
      assert.deepEqual(again.results[1], { step: 1, data: [0x34, 0x12, 0, 0] }, again.n.err);
      assert.match(
        n1.err,
        /dropped a TCP peer \(node 2\): node 2 came back as incarnation [0-9a-f]{8}; its old link \(incarnation [0-9a-f]{8}\) did not answer in 2000 ms/,
      );
      assert.equal(count(n1.err, /^node 1: node 2 joined$/gm), 2, n1.err);
      assert.doesNotMatch(n1.err + again.n.err, /refused|bug|panic/i);
    } finally {
      relay.close();
    }
  });
});

Deno.test("a joiner rejoins a node restarted twice and sees each incarnation up; the old ones' descriptors fail", async () => {
  await withNodes(async (nodes) => {
    let { n1, addr } = await owner(nodes);
    const n2 = node(2, [
      "--join",
      addr,
      "--run",
      "tests/programs/rm_follow.ts",
      "counter",
      "1",
      "3",
    ]);
    nodes.push(n2);
    const result = (round: number, key: string) =>
      n2.results().find((r) => r.round === round && key in r);
    const incarnations: number[] = [];
    for (let round = 0;; round++) {
      await n2.until(() => result(round, "value") !== undefined, `node 2's round ${round}`);
      const r = result(round, "value");
      assert.equal(r.value, 0x1234, `${JSON.stringify(r)}\n${n2.err}`);
      if (round > 0) assert.ok(["ESTALE", "EHOSTDOWN"].includes(r.old), JSON.stringify(r));
      incarnations.push(r.incarnation);
      if (round === 2) break;
      // Node 1 ends; node 2's READs through its descriptor fail; node 1 comes back.
      await n1.close();
      await n2.until(() => result(round, "lost") !== undefined, `node 2 to lose node 1`);
      assert.equal(result(round, "lost").lost, "EHOSTDOWN", n2.err);
      ({ n1 } = await owner(nodes, addr));
    }
    assert.equal(await n2.exited(), 0, n2.err);
    assert.equal(new Set(incarnations).size, 3, `three incarnations: ${incarnations}`);
    assert.equal(count(n2.err, /^node 2: node 1 joined$/gm), 3, n2.err);
    assert.equal(count(n2.err, new RegExp(`lost node 1; rejoining ${addr}$`, "gm")), 2, n2.err);
    assert.doesNotMatch(n2.err, /refused|not rejoining|bug|panic/i);
  });
});

/** Runs `deno task node ARGS` to its end; returns its exit code and output. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  const child = spawnNode(args);
  try {
    const out = await withDeadline(child.output(), WAIT_MS, `deno task node ${args.join(" ")}`);
    return { code: out.code, stderr: decoder.decode(out.stderr) };
  } catch (e) {
    child.kill("SIGKILL");
    await child.status;
    throw e;
  }
}

Deno.test("deno task node with a missing --id, a bad --listen or a short secret exits 2 with usage", async () => {
  const cases: [string[], RegExp][] = [
    [["--listen", "127.0.0.1:0", "--secret", SECRET], /--id must be a node number/],
    [
      ["--id", "1", "--listen", "nowhere", "--secret", SECRET],
      /--listen must be HOST:PORT, not "nowhere"/,
    ],
    [
      ["--id", "1", "--listen", "127.0.0.1:70000", "--secret", SECRET],
      /--listen must be HOST:PORT/,
    ],
    [["--id", "1", "--secret", SECRET], /--listen HOST:PORT is required/],
    [
      ["--id", "1", "--listen", "127.0.0.1:0", "--secret", "short"],
      /secret of at least 8 characters/,
    ],
    [["--id", "1", "--listen", "127.0.0.1:0"], /secret of at least 8 characters/],
  ];
  for (const [args, reason] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, reason, args.join(" "));
    assert.match(r.stderr, /^usage: deno task node --id N --listen HOST:PORT /m, args.join(" "));
    assert.doesNotMatch(r.stderr, /listening on/, args.join(" "));
  }
});
