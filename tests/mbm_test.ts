/**
 * Message segments (001 §3.2–3.3): message-oriented consistency and automatic
 * signal-on-write. A line is published whole when its last byte is written, and
 * only then: no signal and none of its data before, one signal after, at each
 * receiver's own address; page units signal on the page's last byte only;
 * MESSAGE_QUIET publishes without signalling; a FIFO that is not drained drops and
 * counts; the errors of unit_complete, attach and writable views; and a segment
 * bound on two or three nodes, where each completed line travels as one datagram
 * (forwarded by the owner), whole or not at all under loss.
 *
 * Programs: mbm_writer.ts (scripted writer, probing its mbm_reader.ts receivers
 * between steps), mbm_overflow.ts, mbm_errors.ts, mbm_node.ts (one end of a segment
 * bound on several nodes, paced by Unix signals from the test), mbm_attach.ts, and
 * mbm_stale_line.ts (regressions at the end).
 */

import assert from "node:assert/strict";
import { Sig } from "../kernel/abi/layout.ts";
import { Sys } from "../kernel/abi/syscalls.ts";
import type { KernelConfig } from "../kernel/kernel.ts";
import type { Process } from "../kernel/proc/process.ts";
import { FrameType } from "../kernel/net/wire.ts";
import { decodeFrame, type Frame } from "../kernel/remote/memory_frames.ts";
import { QUIET, until } from "./remote_helpers.ts";
import { TestCluster, type TestNode, withCluster, withDeadline, withNode } from "./helpers.ts";

const PAGE = 4096;
const LINE = 32;
const WRITER_BASE = 0x1000_0000;

/** Every test that involves signals runs on both delivery paths. */
const PATHS: [string, Partial<KernelConfig>][] = [
  ["", {}],
  [" (software path)", { signalPath: "software" } as Partial<KernelConfig>],
];

/** What mbm_writer.ts stores in every word of line `i` in round `tag`. */
function lineValue(tag: number, i: number): number {
  return ((tag << 28) | i) >>> 0;
}

const FIRST_LINE = Array.from({ length: 8 }, (_, w) => 0xc0de_0000 + w);

/** Runs mbm_writer.ts; returns its report and its readers' reports, by reader index. */
async function runWriter(
  node: TestNode,
  scenario: string,
  readers: number[],
): Promise<{ writer: any; readers: any[] }> {
  const st = await node.run("mbm_writer", [scenario, ...readers.map(String)]);
  assert.equal(
    st.status,
    0,
    `${st.reason}\n--- console ---\n${node.console.out}${node.console.err}`,
  );
  const results = node.results();
  const writer = results.find((r) => r.scenario === scenario);
  const rs = results.filter((r) => "reader" in r).sort((a, b) => a.reader - b.reader);
  assert.deepEqual(writer.children.map((c: any) => c.status), readers.map(() => 0));
  assert.deepEqual(rs.map((r) => r.base), readers);
  return { writer, readers: rs };
}

/**
 * The order in which the line scenario completes lines, as offsets: line 0; lines
 * 1–48 in batches of 8, each completed last line first, twice; lines 49–53.
 */
function lineOrder(): { offset: number; words: number[] }[] {
  const out = [{ offset: 0, words: FIRST_LINE }];
  for (const tag of [0xa, 0xb]) {
    for (let first = 1; first < 49; first += 8) {
      for (let i = first + 7; i >= first; i--) {
        out.push({ offset: LINE * i, words: new Array(8).fill(lineValue(tag, i)) });
      }
    }
  }
  for (let i = 49; i < 53; i++) {
    out.push({ offset: LINE * i, words: new Array(8).fill(lineValue(0xc, i)) });
  }
  out.push({ offset: LINE * 53, words: new Array(8).fill(0x5a5a_5a5a) });
  return out;
}

for (const [path, cfg] of PATHS) {
  // -------------------------------------------------------------------------
  // Lines

  Deno.test(`a message line signals only on its last word: 7 of 8 words give no signal and no data, the 8th one signal at the receiver's address${path}`, async () => {
    await withNode(async (node) => {
      const { writer, readers: [r] } = await runWriter(node, "line", [0x2000_0000]);
      assert.equal(writer.base, WRITER_BASE);
      // The writer reads its own stores, still in its line buffer.
      assert.deepEqual(writer.selfRead, [...FIRST_LINE.slice(0, 7), 0]);
      assert.deepEqual(r.probes[0], { signals: 0, words: new Array(8).fill(0) }, "7 words");
      assert.deepEqual(r.probes[1], { signals: 1, words: FIRST_LINE }, "8 words");
      // The signal carries the receiver's own address, not the writer's.
      assert.equal(r.got[0], 0x2000_0000);
      assert.deepEqual(r.units[0], FIRST_LINE, "the handler saw the whole line");
      assert.equal(r.counters.dropped, 0);
    }, cfg);
  });

  Deno.test(`a reader woken by a line's signal sees all 8 words of it, and the old line until then, with 8 lines open at once${path}`, async () => {
    await withNode(async (node) => {
      const { readers: [r] } = await runWriter(node, "line", [0x2000_0000]);
      const order = lineOrder();
      // No torn line: each handler saw one value in all 8 words, the line's final one.
      assert.equal(r.got.length, order.length);
      r.got.forEach((addr: number, k: number) => {
        assert.equal(addr, r.base + order[k].offset, `signal ${k}`);
        assert.deepEqual(r.units[k], order[k].words, `line at +${order[k].offset}`);
      });
      // Probes around every batch: before its last words, the old lines and no new
      // signal; after, the new lines and exactly 8 more signals.
      let signals = 1, probe = 2;
      for (const [old, tag] of [[0, 0xa], [0xa, 0xb]]) {
        for (let first = 1; first < 49; first += 8) {
          const lines = (t: number) =>
            Array.from({ length: 64 }, (_, w) => t === 0 ? 0 : lineValue(t, first + (w >> 3)));
          assert.deepEqual(
            r.probes[probe++],
            { signals, words: lines(old) },
            `lines ${first}+ open`,
          );
          signals += 8;
          assert.deepEqual(
            r.probes[probe++],
            { signals, words: lines(tag) },
            `lines ${first}+ done`,
          );
        }
      }
      // write() of whole lines, store64 and store8 complete lines the same way.
      assert.deepEqual(r.probes[probe], {
        signals: order.length,
        words: order.slice(-5).flatMap((u) => u.words),
      });
      assert.equal(r.probes.length, probe + 1);
    }, cfg);
  });

  Deno.test(`every receiver gets one signal per completed line, at its own address${path}`, async () => {
    await withNode(async (node) => {
      const at = [0x2000_0000, 0x3000_5000, 0x4000_0000];
      const { readers } = await runWriter(node, "line", at);
      const order = lineOrder();
      assert.equal(new Set(readers.map((r) => r.pid)).size, 3);
      for (const r of readers) {
        assert.deepEqual(r.got, order.map((u) => r.base + u.offset), `reader at ${r.base}`);
        assert.deepEqual(r.units, order.map((u) => u.words), `reader at ${r.base}`);
        assert.equal(r.counters.dropped, 0);
      }
    }, cfg);
  });

  // -------------------------------------------------------------------------
  // Pages

  Deno.test(`a page unit signals only when the page's last byte is written, once per page, at each receiver's address${path}`, async () => {
    await withNode(async (node) => {
      const { readers } = await runWriter(node, "page", [0x2000_0000, 0x3000_5000]);
      for (const r of readers) {
        // 1023 words complete 127 lines and no page: no signal.
        assert.deepEqual(r.probes.map((p: any) => p.signals), [0, 1, 2, 3]);
        assert.deepEqual(r.got, [r.base, r.base + PAGE, r.base]);
        assert.deepEqual(r.units, [
          [0xe000_0000, 0xe000_03ff], // page 0, word by word
          [0x7777_7777, 0x7777_7777], // page 1 in one write()
          [0xe000_0000, 0xee00_03ff], // page 0's last byte alone, again
        ]);
        assert.equal(r.counters.dropped, 0);
      }
    }, cfg);
  });

  // -------------------------------------------------------------------------
  // MESSAGE_QUIET

  Deno.test(`MESSAGE_QUIET publishes a line when its last word is written, and signals no one${path}`, async () => {
    await withNode(async (node) => {
      const { readers } = await runWriter(node, "quiet", [0x2000_0000, 0x3000_5000]);
      for (const r of readers) {
        assert.deepEqual(r.probes, [
          { signals: 0, words: new Array(8).fill(0) },
          { signals: 0, words: FIRST_LINE },
          {
            signals: 0,
            words: Array.from({ length: 64 }, (_, w) => lineValue(0xd, 1 + (w >> 3))),
          },
        ]);
        assert.deepEqual(r.got, []);
        assert.equal(r.counters.dropped, 0);
      }
    }, cfg);
  });

  // -------------------------------------------------------------------------
  // FIFO overflow

  Deno.test(`lines completed into a FIFO that is not drained: 128 handled in order, the rest dropped and counted; writer and FIFO go on${path}`, async () => {
    const N = 200, CAP = 128;
    await withNode(async (node) => {
      const recv = node.spawn("mbm_overflow", [String(N)]);
      await node.until(
        () =>
          node.results().some((r) => r.ready) && node.results().some((r) => r.gate) &&
          recv.blocked?.sysno === Sys.wait,
        10_000,
        "the receiver to block in wait() and the writer to wait for its go",
      );
      const { writer } = node.results().find((r) => r.ready);
      node.kernel.signalProcess(node.kernel.procs.get(writer)!, Sig.SIGHUP, 0);
      const st = await node.exited(recv);
      assert.equal(st.status, 0, `${st.reason}\n${node.console.out}${node.console.err}`);
      const r = node.results().find((x) => "got" in x);
      assert.equal(r.waited.status, 0, r.waited.reason);
      assert.equal(r.waited2.status, 0, r.waited2.reason);
      assert.deepEqual(node.results().filter((x) => "wrote" in x).map((x) => x.wrote), [N, 4]);
      assert.equal(r.handledOnReturn, CAP, "the FIFO's capacity, handled on wait()'s return");
      assert.deepEqual(r.overflowed, { handled: CAP, dropped: N - CAP, pending: 0 });
      // The first CAP lines, in order, then the second writer's 4 once drained again.
      const lines = [...Array.from({ length: CAP }, (_, i) => i), N, N + 1, N + 2, N + 3];
      assert.deepEqual(r.got, lines.map((i) => r.base + LINE * i));
      assert.deepEqual(r.after, { handled: CAP + 4, dropped: N - CAP, pending: 0 });
      assert.ok(node.kernel.stats.signalsDropped >= N - CAP, "counted in the node's stats");
      const ok = await node.run("exit_with", ["0"]);
      assert.equal(ok.status, 0, "the kernel still runs programs");
    }, cfg);
  });

  // -------------------------------------------------------------------------
  // Errors

  Deno.test(`unit_complete, attach and view refuse bad arguments with typed errors; the process carries on${path}`, async () => {
    await withNode(async (node) => {
      const st = await node.run("mbm_errors");
      assert.equal(st.status, 0, `${st.reason}\n${node.console.out}${node.console.err}`);
      const [r] = node.results();
      assert.deepEqual(r.unitComplete, {
        what0: "EINVAL",
        what4: "EINVAL",
        whatAll: "EINVAL",
        normal: "EINVAL",
        unmapped: "EFAULT",
        readOnly: "EPERM",
        readOnlySend: "EPERM",
        signal: 1, // its own handler
        send: 0,
        quiet: 0,
      });
      assert.deepEqual(r.got, [r.base + 32], "the line's first byte, not the address given");
      assert.deepEqual(r.quietGot, []);
      assert.deepEqual(r.attach, { missing: "EBADF" });
      assert.equal(r.view.writable, "EINVAL", "a writable view of a message page");
      assert.equal(r.view.writable32, "EINVAL");
      assert.equal(r.view.readOnly, 32);
      assert.deepEqual(r.after, { got: [r.base + 96], word: 0x600d_0007 });
    }, cfg);
  });
}

// ---------------------------------------------------------------------------
// Across nodes

/** A running mbm_node.ts end. */
class End {
  constructor(readonly c: TestCluster, readonly node: number, readonly proc: Process) {}

  results(): any[] {
    return this.c.results().filter((r) => r.role === this.proc.args[0] && r.node === this.node);
  }

  async result(pred: (r: any) => boolean, what: string): Promise<any> {
    let found: any;
    await until(this.c, () => (found = this.results().find(pred)) !== undefined, what);
    return found;
  }

  /** The segment's bytes in this node's memory (the owner's, or the replica). */
  async memory(): Promise<Uint8Array> {
    const { segment } = await this.result((r) => r.ready, `${this.proc.args[0]} ready`);
    const seg = this.c.node(this.node).segments.get(segment);
    assert.ok(seg, `segment ${segment} on node ${this.node}`);
    return seg.bytes;
  }

  /** Writes its lines in two steps (all but the last word, then that word). */
  async writePartial(): Promise<void> {
    this.c.node(this.node).signalProcess(this.proc, Sig.SIGHUP, 0);
    await this.result((r) => r.partial, `${this.proc.args[0]} to write`);
  }

  async writeLast(): Promise<void> {
    this.c.node(this.node).signalProcess(this.proc, Sig.SIGHUP, 0);
    await this.result((r) => r.wrote, `${this.proc.args[0]} to write its last word`);
  }

  /** Stops it; returns its report of the signals it handled. */
  async stop(): Promise<any> {
    this.c.node(this.node).signalProcess(this.proc, Sig.SIGINT, 0);
    const st = await withDeadline(this.proc.exited, 10_000, `${this.proc.args[0]} to exit`);
    assert.equal(st.status, 0, `${st.reason}\n${this.c.console.out}${this.c.console.err}`);
    return this.results().find((r) => "got" in r);
  }
}

/** Starts the owner on node 0, ready once it has exported NAME. */
async function startOwner(
  c: TestCluster,
  name: string,
  pages: number,
  count: number,
): Promise<End> {
  const owner = new End(
    c,
    0,
    c.spawn(0, "mbm_node", ["owner", name, "0x10000000", `${pages}`, `${count}`]),
  );
  await owner.result((r) => r.ready, "the owner to export");
  return owner;
}

/** Starts the owner on node 0 and the member on node 1; both ready. */
async function ends(
  c: TestCluster,
  name: string,
  pages: number,
  count: number,
): Promise<{ owner: End; member: End }> {
  const owner = await startOwner(c, name, pages, count);
  const member = new End(c, 1, c.spawn(1, "mbm_node", ["member", name, "0x30000000", `${count}`]));
  await member.result((r) => r.ready, "the member to attach");
  return { owner, member };
}

/** What mbm_node.ts on node `n` stores in every word of line `i` of its half. */
function nodeValue(n: number, i: number): number {
  return ((((n + 1) << 28) | i) + 1) >>> 0;
}

/** The 8 words of line `i` of `bytes` from byte `from`. */
function lineWords(bytes: Uint8Array, from: number, i: number): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  return Array.from({ length: 8 }, (_, w) => dv.getUint32(from + LINE * i + 4 * w, true));
}

/**
 * Checks one direction: every line of the writer's half in the receiving node's
 * memory is all zero or all its value (never torn), and the receiver handled one
 * signal for each deposited line, in order, with the whole line, unless its FIFO
 * dropped it. Returns how many lines arrived.
 */
function checkArrivals(
  memory: Uint8Array,
  from: number,
  count: number,
  writerNode: number,
  report: any,
  received: number,
): number {
  const arrived: number[] = [];
  for (let i = 0; i < count; i++) {
    const words = lineWords(memory, from, i);
    if (words.every((w) => w === 0)) continue;
    assert.deepEqual(words, new Array(8).fill(nodeValue(writerNode, i)), `line ${i} torn`);
    arrived.push(i);
  }
  assert.equal(received, arrived.length, "units deposited = complete lines");
  const lines = report.got.map((a: number) => (a - report.base - from) / LINE);
  assert.equal(lines.length + report.counters.dropped, arrived.length, "one signal per unit");
  lines.forEach((i: number, k: number) => {
    assert.ok(arrived.includes(i), `signal for line ${i}, which never arrived`);
    if (k > 0) assert.ok(i > lines[k - 1], "in order");
    assert.deepEqual(report.units[k], new Array(8).fill(nodeValue(writerNode, i)), `line ${i}`);
  });
  return arrived.length;
}

for (const [path, cfg] of PATHS) {
  Deno.test(`a line completed on one node arrives whole on the other with one signal at that node's address, in both directions${path}`, async () => {
    const PAGES = 2, N = 100;
    await withCluster(
      async (c) => {
        const { owner, member } = await ends(c, "mbm-chan", PAGES, N);
        const half = PAGES * PAGE / 2;
        const [atOwner, atMember] = [await owner.memory(), await member.memory()];
        const received = (n: number) => c.node(n).channels.stats.received;

        // Down: owner (node 0) → replica (node 1). Nothing travels before a line completes.
        await owner.writePartial();
        assert.equal(received(1), N - 1);
        assert.deepEqual(
          lineWords(atMember, 0, N - 1),
          new Array(8).fill(0),
          "open line stayed home",
        );
        assert.deepEqual(lineWords(atOwner, 0, N - 1), new Array(8).fill(0), "still in the MMU");
        await owner.writeLast();
        assert.equal(received(1), N);
        // Up: replica (node 1) → owner (node 0).
        await member.writePartial();
        assert.equal(received(0), N - 1);
        assert.deepEqual(lineWords(atOwner, half, N - 1), new Array(8).fill(0));
        await member.writeLast();
        assert.equal(received(0), N);

        const down = await member.stop(), up = await owner.stop();
        assert.equal(down.base, 0x3000_0000);
        assert.equal(up.base, 0x1000_0000);
        assert.equal(checkArrivals(atMember, 0, N, 0, down, received(1)), N);
        assert.equal(checkArrivals(atOwner, half, N, 1, up, received(0)), N);
        assert.deepEqual(down.got, Array.from({ length: N }, (_, i) => 0x3000_0000 + LINE * i));
        assert.deepEqual(
          up.got,
          Array.from({ length: N }, (_, i) => 0x1000_0000 + half + LINE * i),
        );
        assert.equal(c.node(0).channels.stats.forwarded, 0, "no third node to forward to");
        assert.equal(c.node(0).channels.stats.refused + c.node(1).channels.stats.refused, 0);
      },
      2,
      { ...QUIET, ...cfg },
    );
  });

  Deno.test(`with three nodes the owner sends each line to both replicas and forwards a replica's line to the other${path}`, async () => {
    const PAGES = 2, N = 40;
    await withCluster(
      async (c) => {
        const { owner, member } = await ends(c, "mbm-three", PAGES, N);
        const listener = new End(
          c,
          2,
          c.spawn(2, "mbm_node", ["member", "mbm-three", "0x50000000", `${N}`, "all"]),
        );
        await listener.result((r) => r.ready, "the third node to attach");
        const half = PAGES * PAGE / 2;
        const stats = (n: number) => ({ ...c.node(n).channels.stats });
        await owner.writePartial();
        await owner.writeLast();
        await member.writePartial();
        await member.writeLast();
        const [down, third, up] = [await member.stop(), await listener.stop(), await owner.stop()];
        const lines = (at: number) => Array.from({ length: N }, (_, i) => at + LINE * i);
        assert.deepEqual(down.got, lines(0x3000_0000), "node 1 gets the owner's lines");
        assert.deepEqual(up.got, lines(0x1000_0000 + half), "node 0 gets node 1's lines");
        assert.deepEqual(third.got, [...lines(0x5000_0000), ...lines(0x5000_0000 + half)]);
        assert.deepEqual(third.units, [
          ...Array.from({ length: N }, (_, i) => new Array(8).fill(nodeValue(0, i))),
          ...Array.from({ length: N }, (_, i) => new Array(8).fill(nodeValue(1, i))),
        ]);
        // The owner sent its N lines to two members and forwarded node 1's N to node 2.
        assert.deepEqual(stats(0), { sent: 3 * N, received: N, forwarded: N, refused: 0 });
        assert.deepEqual(stats(1), { sent: N, received: N, forwarded: 0, refused: 0 });
        assert.deepEqual(stats(2), { sent: 0, received: 2 * N, forwarded: 0, refused: 0 });
      },
      3,
      { ...QUIET, ...cfg },
    );
  });

  Deno.test(`under 30% loss a line arrives whole or not at all, in both directions, with one signal per arrival${path}`, async () => {
    const PAGES = 16, N = 300;
    const c = new TestCluster(2, { ...QUIET, ...cfg });
    try {
      await c.startClerks(600_000); // no refresh traffic to draw from the loss generator
      const { owner, member } = await ends(c, "mbm-lossy", PAGES, N);
      const half = PAGES * PAGE / 2;
      const [atOwner, atMember] = [await owner.memory(), await member.memory()];
      const net = c.cluster.network;
      const lost = net.stats.lost;
      net.setDefaultLink({ loss: 0.3 }, 20261122);
      await owner.writePartial();
      await owner.writeLast();
      await member.writePartial();
      await member.writeLast();
      net.setDefaultLink({ loss: 0 });
      const down = await member.stop(), up = await owner.stop();
      const a = checkArrivals(atMember, 0, N, 0, down, c.node(1).channels.stats.received);
      const b = checkArrivals(atOwner, half, N, 1, up, c.node(0).channels.stats.received);
      // Seeded loss: some lines of each direction arrive (whole) and some do not.
      assert.ok(0 < a && a < N, `node 1 got ${a} of ${N} lines`);
      assert.ok(0 < b && b < N, `node 0 got ${b} of ${N} lines`);
      assert.ok(net.stats.lost > lost, "loss happened");
    } finally {
      c.close();
    }
  });

  // The seeded run's checks hold only if its seed happens to lose lines both ways.
  // This one loses exactly one unit frame each way: the first that carries any byte
  // of the owner's line DOWN, and of the member's line UP.
  Deno.test(`with one unit frame lost each way, exactly that line is missing: no part of it, no signal for it${path}`, async () => {
    const PAGES = 16, N = 300, DOWN = 17, UP = 250;
    const c = new TestCluster(2, { ...QUIET, ...cfg });
    try {
      await c.startClerks(600_000);
      const { owner, member } = await ends(c, "mbm-onelost", PAGES, N);
      const half = PAGES * PAGE / 2;
      const [atOwner, atMember] = [await owner.memory(), await member.memory()];
      const net = c.cluster.network;
      const dropped: Frame[] = [];
      const within = (f: Frame, at: number) => f.offset < at + LINE && f.offset + f.count > at;
      const picked = { down: false, up: false };
      net.setFaultHook((bytes, from, to) => {
        const f = decodeFrame(bytes);
        if (typeof f === "string" || f.type !== FrameType.UNIT) return "deliver";
        const way = from === 0 && to === 1 && within(f, LINE * DOWN)
          ? "down"
          : from === 1 && to === 0 && within(f, half + LINE * UP)
          ? "up"
          : null;
        if (way === null || picked[way]) return "deliver";
        picked[way] = true;
        dropped.push(f);
        return "drop";
      });
      await owner.writePartial();
      await owner.writeLast();
      await member.writePartial();
      await member.writeLast();
      net.setFaultHook(null);
      const down = await member.stop(), up = await owner.stop();
      const a = checkArrivals(atMember, 0, N, 0, down, c.node(1).channels.stats.received);
      const b = checkArrivals(atOwner, half, N, 1, up, c.node(0).channels.stats.received);
      assert.deepEqual([a, b], [N - 1, N - 1], "every other line arrived");
      assert.deepEqual(
        dropped.map((f) => [f.srcNode, f.offset, f.count]),
        [[0, LINE * DOWN, LINE], [1, half + LINE * UP, LINE]],
        "one frame each way, each a whole line",
      );
      const missing = (m: Uint8Array, from: number) =>
        Array.from({ length: N }, (_, i) => i).filter((i) =>
          lineWords(m, from, i).every((w) => w === 0)
        );
      assert.deepEqual(missing(atMember, 0), [DOWN], "node 1 lacks exactly line DOWN");
      assert.deepEqual(missing(atOwner, half), [UP], "node 0 lacks exactly line UP");
      const signalled = (r: any, from: number) =>
        r.got.map((x: number) => (x - r.base - from) / LINE);
      assert.ok(!signalled(down, 0).includes(DOWN), "no signal for the lost line on node 1");
      assert.ok(!signalled(up, half).includes(UP), "no signal for the lost line on node 0");
    } finally {
      c.close();
    }
  });
}

Deno.test("attach() refuses an unknown descriptor, a NORMAL segment (local or remote) and a revoked export; a remote message segment attaches to one replica", async () => {
  await withCluster(
    async (c) => {
      const owner = await startOwner(c, "mbm-att", 2, 1);
      const st = await c.run(1, "mbm_attach", ["mbm-att"]);
      assert.equal(st.status, 0, `${st.reason}\n${c.console.out}${c.console.err}`);
      const r = c.results().find((x) => "missing" in x);
      assert.equal(r.missing, "EBADF");
      assert.equal(r.remoteNormal, "EINVAL");
      assert.equal(r.localNormal, "EINVAL");
      assert.equal(r.localMessage.attached, r.localMessage.segment, "a local segment is itself");
      assert.equal(r.revoked, "ESTALE");
      const [first, again] = r.remoteMessage;
      assert.equal(typeof first, "number", String(first));
      assert.equal(again, first, "one replica per node");
      await owner.stop();
    },
    2,
    QUIET,
  );
});

// ---------------------------------------------------------------------------
// Regressions: bugs found by these tests, fixed.

Deno.test({
  name: "a line left open when its segment is unbound never reaches what is bound there next",
  // userland/lib/rt/mmu.ts once named open lines by virtual address, so a stale line
  // landed in another segment bound at the same address; they are named physically
  // now, and unbind/release discard the segment's open lines.
  fn: async () => {
    await withNode(async (node) => {
      for (const mode of ["rebind", "normal"]) {
        const st = await node.run("mbm_stale_line", [mode]);
        assert.equal(st.status, 0, st.reason);
      }
      const [rebind, normal] = node.results();
      assert.deepEqual(rebind.seenThroughOther, [0, 0, 0, 0, 0, 0, 0, 0xbbbb_0007]);
      assert.deepEqual(normal.normal, new Array(8).fill(0));
    });
  },
});

Deno.test({
  name: "a process killed while blocked in attach() leaves no replica held by its dead pid",
  // kernel/syscalls/sys_message.ts once added the pid to the replica's holders even
  // when the process had died meanwhile, so the replica was never freed.
  fn: async () => {
    await withCluster(
      async (c) => {
        await startOwner(c, "mbm-killed", 2, 1);
        const before = new Set(c.node(1).segments.keys());
        const net = c.cluster.network;
        net.setLink(0, 1, { latencyUs: 200_000 });
        const m = c.spawn(1, "mbm_node", ["member", "mbm-killed", "0x30000000", "1"]);
        await until(c, () => m.blocked?.sysno === Sys.attach, "the member to block in attach()");
        const delivered = net.stats.delivered;
        c.node(1).signalProcess(m, Sig.SIGKILL, 0);
        await withDeadline(m.exited, 5_000, "the member to die");
        // The JOIN and its REPLY both get through; then the replica's fate is decided.
        await until(c, () => net.stats.delivered >= delivered + 2 && !net.busy, "the JOIN's reply");
        const held = [...c.node(1).segments.values()].filter((s) =>
          !before.has(s.id) && s.holders.has(m.pid)
        );
        assert.deepEqual(held.map((s) => s.id), [], "segments held by a dead process");
      },
      2,
      QUIET,
    );
  },
});

// ---------------------------------------------------------------------------
// Membership: who keeps receiving a segment's units (review findings, fixed).

/** The owner's segment on node 0 and its members ("node:export"). */
async function ownerSegment(owner: End) {
  const { segment } = await owner.result((r) => r.ready, "the owner ready");
  const seg = owner.c.node(0).segments.get(segment)!;
  return { seg, members: () => [...(seg.channel?.members.keys() ?? [])] };
}

Deno.test("a revoked export's members receive nothing more, and a freed replica leaves its owner", async () => {
  await withCluster(
    async (c) => {
      const { owner, member } = await ends(c, "mbm-revoke", 2, 2);
      const { seg, members } = await ownerSegment(owner);
      assert.equal(members().length, 1, "node 1 is a member");
      assert.equal(Atomics.load(new Int32Array(seg.directory.buffer), 2), 1, "NETWORK set");
      const e = c.node(0).exports.byName("mbm-revoke")!;
      c.node(0).removeExport(e); // what the revoke system call does in the kernel
      assert.deepEqual(members(), [], "revoking drops the members that joined through it");
      assert.equal(Atomics.load(new Int32Array(seg.directory.buffer), 2), 0, "NETWORK clear");
      const before = c.node(1).channels.stats.received;
      await owner.writePartial();
      await owner.writeLast();
      assert.equal(c.node(1).channels.stats.received, before, "no unit reached node 1");
      await member.stop();
      await owner.stop();
    },
    2,
    QUIET,
  );
  await withCluster(
    async (c) => {
      const { owner, member } = await ends(c, "mbm-leave", 2, 1);
      const { members } = await ownerSegment(owner);
      assert.equal(members().length, 1);
      await member.stop(); // its replica is freed: LEAVE
      await until(c, () => members().length === 0, "the member to leave");
      await owner.stop();
    },
    2,
    QUIET,
  );
});

Deno.test("a node that goes down is no longer a member", async () => {
  await withCluster(
    async (c) => {
      const { owner } = await ends(c, "mbm-down", 2, 1);
      const { members } = await ownerSegment(owner);
      assert.equal(members().length, 1);
      c.cluster.crash(1);
      await until(c, () => c.node(0).nodeDown(1) && members().length === 0, "node 1 dropped");
      await owner.stop();
    },
    2,
    { heartbeatMs: 50, failAfterMs: 300 },
  );
});

Deno.test("attach obeys the export's pids, nodes and write inhibit, for every process, locally and remotely", async () => {
  await withCluster(
    async (c) => {
      const run = async (name: string, pids: string, nodes: string, inhibit: boolean) => {
        const o = c.spawn(0, "mbm_restricted", [
          "owner",
          name,
          pids,
          nodes,
          ...(inhibit ? ["inhibit"] : []),
        ]);
        await until(c, () => c.results().some((r) => r.role === "owner" && r.ready), "owner");
        const users = [0, 1].map((n) => c.run(n, "mbm_restricted", ["user", name, "0"]));
        for (const st of await Promise.all(users)) assert.equal(st.status, 0, st.reason);
        const got = c.results().filter((r) => r.role === "user");
        c.node(0).signalProcess(o, Sig.SIGINT, 0);
        await withDeadline(o.exited, 10_000, "owner exit");
        const word0 = c.results().find((r) => "word0" in r).word0;
        c.console.out = ""; // the next round reads its own RESULT lines
        return { got, word0 };
      };
      // Only a pid that does not exist may attach: everyone else is refused.
      const pids = await run("mbm-pids", "[99999]", "null", false);
      assert.deepEqual(pids.got.map((r) => r.attach), ["EPERM", "EPERM"]);
      assert.equal(pids.word0, 0);
      // Only node 42: neither this node nor node 1.
      const nodes = await run("mbm-nodes", "null", "[42]", false);
      assert.deepEqual(nodes.got.map((r) => r.attach), ["EPERM", "EPERM"]);
      // Write-inhibited: a local user binds read-only; a remote one's units are refused.
      const inh = await run("mbm-inhibit", "null", "null", true);
      const local = inh.got.find((r) => r.bind !== null && r.attach === "ok" && r.bind === "EPERM");
      assert.ok(local, `a local user cannot bind writable: ${JSON.stringify(inh.got)}`);
      assert.equal(inh.word0, 0, "no store reached the owner's memory");
      assert.ok(c.node(0).channels.stats.refused >= 1, "the remote user's unit was refused");
    },
    2,
    QUIET,
  );
});

Deno.test("unbinding one of two bindings of a message segment keeps the other's unfinished line", async () => {
  await withNode(async (node) => {
    const st = await node.run("mbm_alias");
    assert.equal(st.status, 0, st.reason);
    const line = [1, 2, 3, 4, 5, 6, 7].map((w) => 0x1111 * w).concat(0x8888);
    assert.deepEqual(node.results()[0].got, [line]);
  });
});

for (const [path, cfg] of PATHS) {
  Deno.test(`signal-on-write: the writer's completing stores trap ${path ? "once each" : "never"}${path}`, async () => {
    await withNode(async (node) => {
      const w = node.spawn("mbm_notrap");
      await node.until(() => node.results().some((r) => r.ready), 10_000, "the writer");
      const before = w.counters.traps; // its report of {ready} is counted already
      node.kernel.signalProcess(w, Sig.SIGHUP, 0);
      await node.until(() => node.results().some((r) => r.done), 10_000, "the writer's lines");
      const r = node.results().find((x) => x.done);
      assert.equal(r.signalled, 64, "one signal per completed line");
      assert.equal((await node.exited(w)).status, 0);
      const traps = w.counters.traps - before - 2; // less the {done} report and exit
      if (path) assert.ok(traps >= 64, `software path: ${traps} traps for 64 lines`);
      else assert.equal(traps, 0, "hardware path: no trap by the sender");
    }, cfg);
  });
}
