/**
 * The DMA queue (002 §3.4): remote WRITEs posted to a ring this process shares with
 * its kernel, taken with no trap per request. Thousands of queued writes land in
 * order with a trap only per full ring; queued and trapped writes leave in the order
 * they were made (the kernel empties the ring before it serves a trap); block writes
 * land byte-exact, also when more than a ring's worth are queued in a row; a request
 * the kernel refuses is an error completion (counters, remote status, a COMPLETION
 * event with its code), never an exception, and the process carries on; a scribbled
 * TAIL is refused once and the kernel and other processes keep working.
 *
 * The program is tests/programs/dma_node.ts: an owner on node 0 exports "dma",
 * writers on node 1 post to it. The owner's memory is read from the test through
 * node 0's segment table, a writer's trap count through node 1's process table.
 */

import assert from "node:assert/strict";
import { Errno } from "../kernel/abi/errors.ts";
import { EventKind, Sig } from "../kernel/abi/layout.ts";
import type { Process } from "../kernel/proc/process.ts";
import { DMA_BACKLOG_BYTES } from "../kernel/remote/dma_queue.ts";
import { QUIET, stuck, until } from "./remote_helpers.ts";
import { type TestCluster, withCluster, withDeadline } from "./helpers.ts";

/** The byte the block test expects at segment offset `i` (as dma_node.ts makes it). */
function pattern(i: number): number {
  return 1 + ((i * 131 + (i >>> 9)) % 251);
}

/** Starts an owner of a `size`-byte "dma" export on node 0; returns its segment id. */
async function startOwner(c: TestCluster, size: number): Promise<number> {
  c.spawn(0, "dma_node", ["owner", String(size)]);
  const r = await result(c, "owner", "segment");
  return r.segment;
}

/** The first RESULT of `role` that has `key`, once it is there. */
async function result(c: TestCluster, role: string, key: string): Promise<any> {
  let found: any;
  await until(
    c,
    () => (found = c.results().find((r) => r.role === role && key in r)) !== undefined,
    `${role} to report ${key}`,
  );
  return found;
}

/** Waits for a clean exit (status 0: no exception escaped the program). */
async function exitsCleanly(c: TestCluster, p: Process, what: string): Promise<void> {
  const st = await withDeadline(p.exited, 15_000, what).catch((e) => {
    throw new Error(`${e.message}\n${stuck(c)}\n${c.console.out}${c.console.err}`);
  });
  assert.equal(st.status, 0, `${what}: ${st.reason}\n--- console ---\n${c.console.out}`);
}

/** The owner's memory: the bytes of segment `segment` on node 0. */
function memory(c: TestCluster, segment: number): Uint8Array {
  const seg = c.node(0).segments.get(segment);
  assert.ok(seg, `segment ${segment} on node 0`);
  return seg.bytes;
}

function word(bytes: Uint8Array, off: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(off, true);
}

/** What a request the kernel refused with `errno` leaves (see `refused` in dma_node.ts). */
function refusal(errno: number, tag = 0, errors = 1) {
  return {
    errors,
    errno,
    status: { errors, errno },
    event: tag ? { kind: EventKind.COMPLETION, id: tag, info: errno } : null,
    queued: 0,
  };
}

Deno.test("thousands of queued writes land in order, with a trap per full ring and not per request", async () => {
  await withCluster(
    async (c) => {
      const N = 2000;
      const segment = await startOwner(c, 16 * 1024);
      const w = c.spawn(1, "dma_node", ["order", String(N)]);
      // It has made its queue and sleeps (no trap) until SIGHUP: count from here.
      await result(c, "order", "ready");
      const trapsBefore = w.counters.traps;
      const issuedBefore = c.node(1).remote.stats.issued;
      c.node(1).signalProcess(w, Sig.SIGHUP, 0);
      await exitsCleanly(c, w, "the writer");
      const traps = w.counters.traps - trapsBefore;

      const r = await result(c, "order", "queued");
      assert.deepEqual(
        [r.queued, r.done, r.errors],
        [2 * N, 2 * N, 0],
        "every request completed, none with an error",
      );
      assert.ok(
        c.node(1).remote.stats.issued - issuedBefore >= 2 * N,
        "each request went out as its own WRITE",
      );
      const mem = memory(c, segment);
      const wrong: string[] = [];
      for (let i = 0; i < N; i++) {
        if (word(mem, i * 4) !== i + 1) wrong.push(`word ${i} = ${word(mem, i * 4)}`);
      }
      assert.deepEqual(wrong.slice(0, 5), [], `word i holds i+1 (${wrong.length} do not)`);
      assert.equal(word(mem, N * 4), N, "N writes to one word: the last one wins");
      // The ring holds 256: about 2N/256 flushes, plus the report and the exit.
      assert.ok(traps < 100, `${2 * N} queued writes cost ${traps} traps`);
    },
    2,
    QUIET,
  );
});

Deno.test("queued and trapped writes leave in the order they were made", async () => {
  await withCluster(
    async (c) => {
      const ROUNDS = 8, K = 200; // K > DMA_BATCH (64): a trap finds the ring still full
      const segment = await startOwner(c, 8192);
      await exitsCleanly(
        c,
        c.spawn(1, "dma_node", ["mixed", String(ROUNDS), String(K)]),
        "the writer",
      );
      const r = await result(c, "mixed", "requests");
      assert.deepEqual([r.done, r.errors], [ROUNDS * (2 * K + 2), 0], "all completed");
      const mem = memory(c, segment);
      for (let round = 0; round < ROUNDS; round++) {
        assert.equal(
          word(mem, round * 4),
          999_000 + round,
          `round ${round}: ${K} queued writes, then a trapped one: the trapped one wins`,
        );
        assert.equal(
          word(mem, (ROUNDS + round) * 4),
          round * 1000 + K,
          `round ${round}: a trapped write, then ${K} queued ones: the last queued one wins`,
        );
      }
    },
    2,
    QUIET,
  );
});

Deno.test("block writes land byte-exact: 64 KiB, odd sizes, and more than a ring's worth in a row", async () => {
  await withCluster(
    async (c) => {
      const SIZE = 256 * 1024;
      const regions: [number, number][] = [[0, 64 * 1024]];
      let at = 64 * 1024 + 5;
      for (const n of [1, 2, 3, 41, 4097, 65535]) {
        regions.push([at, n]);
        at += n + 11; // a gap that must stay zero
      }
      at = 200_003;
      for (let i = 0; i < 300; i++, at += 100) regions.push([at, 97]); // 300 > 256 in the ring
      const segment = await startOwner(c, SIZE);
      await exitsCleanly(
        c,
        c.spawn(1, "dma_node", ["blocks", JSON.stringify(regions)]),
        "the writer",
      );
      const r = await result(c, "blocks", "requests");
      assert.deepEqual(
        [r.requests, r.done, r.errors],
        [regions.length, regions.length, 0],
        "every block completed",
      );
      const want = new Uint8Array(SIZE);
      for (const [off, n] of regions) for (let i = off; i < off + n; i++) want[i] = pattern(i);
      const mem = memory(c, segment).subarray(0, SIZE);
      const first = mem.findIndex((b, i) => b !== want[i]);
      assert.equal(
        first,
        -1,
        `byte ${first} is ${mem[first]}, want ${want[first]} (region ${
          JSON.stringify(regions.find(([o, n]) => first >= o && first < o + n) ?? "gap")
        })`,
      );
    },
    2,
    QUIET,
  );
});

Deno.test("refused requests are error completions with their code, never exceptions; the process carries on", async () => {
  await withCluster(
    async (c) => {
      const segment = await startOwner(c, 8192);
      await exitsCleanly(c, c.spawn(1, "dma_node", ["errors"]), "the errors program");
      const { cases } = await result(c, "errors", "cases");
      const done = { kind: EventKind.COMPLETION, id: 1, info: 0 };
      assert.deepEqual(cases.good, { event: done, errors: 0 }, "a good tagged request: info 0");
      assert.deepEqual(cases.badDescriptor, refusal(Errno.EBADF, 2), "a bad descriptor");
      assert.deepEqual(cases.outOfBounds, refusal(Errno.EINVAL, 3), "a word past the end");
      assert.deepEqual(cases.blockOutOfBounds, refusal(Errno.EINVAL, 4), "a block past the end");
      assert.deepEqual(cases.blockUnmapped, refusal(Errno.EFAULT, 7), "an unmapped source");
      assert.deepEqual(cases.untagged, refusal(Errno.EBADF), "untagged: counted, no event");
      assert.deepEqual(
        cases.twoInABatch,
        refusal(Errno.EINVAL, 0, 2),
        "two refusals in one batch: both counted, the last code kept",
      );
      assert.equal(cases.inline0, "EINVAL", "an inline write of 0 bytes");
      assert.equal(cases.inline41, "EMSGSIZE", "an inline write of 41 bytes");
      assert.equal(cases.block0, "EINVAL", "a block of 0 bytes");
      assert.equal(cases.block65537, "EMSGSIZE", "a block of 65537 bytes");
      assert.deepEqual(
        cases.inlineRing,
        { published: 0, queued: 0, errors: 0 },
        "the library refused them before the ring",
      );
      assert.deepEqual(
        cases.after,
        {
          event: { kind: EventKind.COMPLETION, id: 8, info: 0 },
          idle: true,
          errors: 0,
          stray: null,
        },
        "after the refusals, writes complete again",
      );

      // Entries written into the ring by hand: the kernel checks what the library would.
      await exitsCleanly(c, c.spawn(1, "dma_node", ["raw"]), "the raw program");
      const raw = (await result(c, "raw", "cases")).cases;
      assert.deepEqual(raw.inline0, refusal(Errno.EINVAL, 11), "an inline entry of 0 bytes");
      assert.deepEqual(raw.inline41, refusal(Errno.EINVAL, 12), "an inline entry of 41 bytes");
      assert.deepEqual(raw.blockZero, refusal(Errno.EINVAL, 5), "a block entry of 0 bytes");
      assert.deepEqual(raw.blockTooBig, refusal(Errno.EINVAL, 6), "a block entry of 65537 bytes");
      assert.deepEqual(raw.unknownOp, refusal(Errno.EINVAL, 13), "an unknown operation");
      assert.deepEqual(raw.unknownFlag, refusal(Errno.EINVAL, 14), "an unknown flag");
      assert.deepEqual(raw.postedTagged, refusal(Errno.EINVAL, 16), "a posted entry with a tag");
      assert.deepEqual(
        raw.good,
        { event: { kind: EventKind.COMPLETION, id: 15, info: 0 }, errors: 0 },
        "a good entry written by hand completes",
      );

      const mem = memory(c, segment);
      assert.equal(word(mem, 0), 0x600d, "no refused request landed over word 0");
      assert.equal(word(mem, 4), 0xbeef, "a dmaWrite32 after the refusals landed");
      assert.deepEqual(
        [...mem.subarray(8, 24)],
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
        "a dmaWrite after the refusals landed",
      );
      assert.deepEqual([...mem.subarray(24, 88)], new Array(64).fill(0x5a), "and a block");
      assert.equal(mem[88], 0, "the block ends where it should");
      assert.equal(word(mem, 200), 0x7777, "the good entry written by hand landed");
      assert.equal(word(mem, 8188), 0, "the word past the end was never written");
    },
    2,
    QUIET,
  );
});

Deno.test("a scribbled TAIL is refused once; the kernel and other processes keep working", async () => {
  await withCluster(
    async (c) => {
      const segment = await startOwner(c, 8192);
      const s = c.spawn(1, "dma_node", ["scribble"]);
      const { scribbled } = await result(c, "scribble", "scribbled");
      assert.equal(scribbled.idleBefore, true, "the ring was empty before the scribble");
      assert.deepEqual(
        [scribbled.errors, scribbled.errno, scribbled.status],
        [1, Errno.EINVAL, { errors: 1, errno: Errno.EINVAL }],
        "one EINVAL error completion for the whole garbage TAIL",
      );
      assert.equal(scribbled.headMoved, 100_000, "the kernel's HEAD jumped to the garbage TAIL");
      assert.equal(scribbled.stray, null, "no event for an untagged refusal");
      await result(c, "scribble", "ready");
      assert.equal(s.state, "running", "the scribbler lives on");

      // Another process of the same kernel still gets its writes through.
      await exitsCleanly(c, c.spawn(1, "dma_node", ["poke", "12", "4242"]), "the other writer");
      assert.deepEqual(
        (await result(c, "poke", "poked")).errors,
        0,
        "the other writer saw no error",
      );
      assert.equal(word(memory(c, segment), 12), 4242, "the other writer's write landed");

      // The scribbler puts TAIL back where its library left it (refused once more,
      // being behind HEAD) and queues again.
      c.node(1).signalProcess(s, Sig.SIGHUP, 0);
      await exitsCleanly(c, s, "the scribbler");
      const { resynced } = await result(c, "scribble", "resynced");
      assert.deepEqual(
        resynced,
        { status: { errors: 1, errno: Errno.EINVAL }, headBack: true, idle: true },
        "TAIL behind HEAD: one more EINVAL, and HEAD follows it back",
      );
      assert.equal(word(memory(c, segment), 8), 0x5151, "the scribbler's next write landed");
    },
    2,
    QUIET,
  );
});

Deno.test("posted WRITEs land with no completion and no REPLY; a refusal by the owner still comes back", async () => {
  await withCluster(
    async (c) => {
      const segment = await startOwner(c, 16384);
      const owner = [...c.node(0).procs.values()].find((p) => p.module.includes("dma_node"))!;
      const N = 500;
      const postedBefore = c.node(1).remote.stats.posted;
      const w = c.spawn(1, "dma_node", ["posted", String(N)]);
      const r = await result(c, "posted", "posted");
      assert.deepEqual(r.posted, { done: 1, errors: 0 }, "only the fence's completion is counted");
      assert.equal(r.outgoing, true, "an outgoing Tripwire saw a posted WRITE leave");
      assert.equal(r.tagRefused, "EINVAL", "a posted WRITE takes no tag");
      const mem = memory(c, segment);
      for (let i = 0; i < N; i++) assert.equal(word(mem, i * 4), i + 1, `word ${i}`);
      assert.deepEqual([...mem.subarray(8192, 8192 + 64)], new Array(64).fill(0x77));
      // N + 1 WRITEs went posted (one frame each, no REPLY); the connecting and
      // fencing ones went with completions.
      assert.equal(c.node(1).remote.stats.posted - postedBefore, N + 1);
      c.node(0).signalProcess(owner, Sig.SIGHUP, 0);
      await result(c, "owner", "inhibited");
      c.node(1).signalProcess(w, Sig.SIGHUP, 0);
      const refused = (await result(c, "posted", "refused")).refused;
      assert.deepEqual(refused, { errors: 1, errno: Errno.EPERM, desc: true, done: 0 });
      await exitsCleanly(c, w, "the writer");
      c.node(0).signalProcess(owner, Sig.SIGINT, 0);
    },
    2,
    QUIET,
  );
});

Deno.test("queued WRITEs wait while the link to their destination is more than 4 MiB behind; all land", async () => {
  await withCluster(
    async (c) => {
      const SIZE = 8 * 1024 * 1024;
      const regions: [number, number][] = [];
      for (let at = 0; at < SIZE; at += 65536) regions.push([at, 65536]);
      const segment = await startOwner(c, SIZE);
      // 8 MiB over a 50 MB/s link: queued at once they would be 8 MiB behind.
      c.cluster.network.setLink(0, 1, { bandwidthMBps: 50 });
      const w = c.spawn(1, "dma_node", ["blocks", JSON.stringify(regions)]);
      let most = 0;
      await until(
        c,
        () => {
          most = Math.max(most, c.cluster.network.backlog(1, 0));
          return w.state !== "running";
        },
        "the writer",
        30_000,
      );
      await exitsCleanly(c, w, "the writer");
      assert.ok(most > 2 * 1024 * 1024, `the link fell behind (at most ${most} bytes seen)`);
      assert.ok(
        most <= DMA_BACKLOG_BYTES + 65536 + 128,
        `${most} bytes behind: the rings should have waited at ${DMA_BACKLOG_BYTES}`,
      );
      const r = await result(c, "blocks", "requests");
      assert.deepEqual([r.done, r.errors], [regions.length, 0], "every block completed");
      const mem = memory(c, segment);
      for (const i of [0, 65535, 65536, 4 * 1024 * 1024 + 7, SIZE - 1]) {
        assert.equal(mem[i], pattern(i), `byte ${i}`);
      }
    },
    2,
    QUIET,
  );
});
