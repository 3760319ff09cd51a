/**
 * The ext3 journal (servers/files/jbd2.ts): commit, recovery and checkpoint on a disk in
 * memory, crashes injected at chosen writes, refusals of bad superblocks, and both
 * directions of interoperation with e2fsprogs (our log replayed by e2fsck, debugfs's log
 * replayed by us).
 */

import assert from "node:assert/strict";
import { MemoryDevice } from "../servers/files/block_device.ts";
import { JBD2_MAGIC, Journal, JournalError, journalSuperblock } from "../servers/files/jbd2.ts";
import {
  debugfs,
  debugfsScript,
  freeRanges,
  fsck,
  fsckFix,
  imageDevice,
  journalBlocks,
  mkfsExt3,
  saveDevice,
  withoutE2fsprogs,
  withTempDir,
} from "./e2fsprogs.ts";

const NOW = 1_700_000_000_250;
const Sb = { SEQUENCE: 0x18, START: 0x1c, INCOMPAT: 0x28, UUID: 0x30 };
const Type = { DESCRIPTOR: 1, COMMIT: 2, REVOKE: 5 };
const Flag = { ESCAPE: 1, SAME_UUID: 2, LAST_TAG: 8 };
/** The ext2 superblock: at byte 1024, s_uuid at 0x68, s_feature_incompat at 0x60. */
const EXT2_SB = 1024, EXT2_UUID = EXT2_SB + 0x68, EXT2_INCOMPAT = EXT2_SB + 0x60, RECOVER = 0x4;

function be32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at);
}

function setBe32(b: Uint8Array, at: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, v);
}

/** A block of `size` bytes filled from `seed` (never starting with the magic). */
function pattern(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + seed * 13 + (i >> 8)) & 0xff;
  b[0] = seed & 0xff;
  return b;
}

/** A block that starts with the JBD2 magic, so its log copy must be escaped. */
function magicBlock(size: number, seed: number): Uint8Array {
  const b = pattern(size, seed);
  setBe32(b, 0, JBD2_MAGIC);
  return b;
}

/**
 * A disk in memory with a fresh journal of `blocks` blocks. The journal is in two
 * extents (device blocks 100.. for its first half, 400.. for the rest), so log writes
 * must split where the extents do.
 */
function memoryJournal(blocks: number, blockSize = 4096) {
  const dev = MemoryDevice.zeroed(400 + blocks, blockSize);
  const half = Math.floor(blocks / 2);
  const map = (i: number) => (i < half ? 100 + i : 400 + i - half);
  dev.write(map(0), journalSuperblock({ blockSize, blocks }));
  const load = () => Journal.load(dev, map, blocks, { now: () => NOW });
  return { dev, map, load, journal: load() };
}

function home(dev: MemoryDevice, block: number): Uint8Array {
  return dev.read(block);
}

function zero(size: number): Uint8Array {
  return new Uint8Array(size);
}

Deno.test("journalSuperblock() loads back as an empty journal", () => {
  const { journal } = memoryJournal(64);
  assert.equal(journal.needsRecovery, false);
  assert.equal(journal.capacity, 63);
  assert.equal(journal.free, 63);
  assert.equal(journal.pending.size, 0);
  assert.deepEqual(journal.recover(), { transactions: 0, blocks: 0 });
});

Deno.test({
  name: "journalSuperblock() matches the journal superblock of mke2fs -t ext3",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withTempDir((dir) => {
      const img = `${dir}/fresh.img`;
      mkfsExt3(img, 32);
      const dev = imageDevice(img), map = journalBlocks(img);
      const real = dev.read(map[0]);
      const uuid = dev.bytes.slice(EXT2_UUID, EXT2_UUID + 16);
      const ours = journalSuperblock({ blockSize: 4096, blocks: map.length, uuid });
      const fields: [string, number][] = [
        ["h_magic", 0x0],
        ["h_blocktype", 0x4],
        ["h_sequence", 0x8],
        ["s_blocksize", 0xc],
        ["s_maxlen", 0x10],
        ["s_first", 0x14],
        ["s_sequence", 0x18],
        ["s_start", 0x1c],
        ["s_errno", 0x20],
        ["s_feature_compat", 0x24],
        ["s_feature_incompat", 0x28],
        ["s_feature_ro_compat", 0x2c],
        ["s_nr_users", 0x40],
        ["s_dynsuper", 0x44],
        ["s_max_transaction", 0x48],
        ["s_max_trans_data", 0x4c],
      ];
      for (const [name, at] of fields) assert.equal(be32(ours, at), be32(real, at), name);
      assert.deepEqual(ours.subarray(Sb.UUID, Sb.UUID + 16), real.subarray(Sb.UUID, Sb.UUID + 16));
      assert.deepEqual(ours, real, "the rest of the block (s_users, padding) too");
      const journal = Journal.load(dev, (i) => map[i], map.length);
      assert.equal(journal.needsRecovery, false);
      assert.equal(journal.capacity, map.length - 1);
    }),
});

Deno.test("commit() leaves homes to recover(), which replays the log and un-escapes", () => {
  const { dev, map, journal, load } = memoryJournal(64);
  const a = pattern(4096, 1), a2 = pattern(4096, 2), m = magicBlock(4096, 3), c = pattern(4096, 4);
  journal.commit(new Map([[10, a], [11, m]]));
  journal.commit(new Map([[10, a2], [12, c]]));
  for (const b of [10, 11, 12]) assert.deepEqual(home(dev, b), zero(4096), `home ${b} untouched`);
  assert.deepEqual([...journal.pending].sort(), [10, 11, 12]);
  assert.equal(journal.needsRecovery, true);
  assert.equal(journal.free, 63 - 2 * 4);

  // The first transaction's log: descriptor at 1, copies at 2 and 3, commit at 4.
  const descriptor = dev.read(map(1));
  assert.equal(be32(descriptor, 4), Type.DESCRIPTOR);
  assert.equal(be32(descriptor, 12), 10);
  assert.equal(be32(descriptor, 12 + 8 + 16), 11);
  assert.equal(descriptor[12 + 8 + 16 + 7], Flag.ESCAPE | Flag.SAME_UUID | Flag.LAST_TAG);
  assert.deepEqual(dev.read(map(3)).subarray(0, 4), zero(4), "escaped copy");
  assert.deepEqual(dev.read(map(3)).subarray(4), m.subarray(4));
  const commit = dev.read(map(4));
  assert.equal(be32(commit, 4), Type.COMMIT);
  assert.equal(be32(commit, 0x30) * 2 ** 32 + be32(commit, 0x34), 1_700_000_000, "h_commit_sec");
  assert.equal(be32(commit, 0x38), 250_000_000, "h_commit_nsec");
  assert.deepEqual(commit.subarray(12, 0x30), zero(0x30 - 12), "no checksum");

  const after = load(); // as after a crash: only the disk survives
  assert.equal(after.needsRecovery, true);
  assert.equal(after.free, 0, "nothing is free before recovery");
  assert.deepEqual(after.recover(), { transactions: 2, blocks: 4 });
  assert.deepEqual(home(dev, 10), a2, "the newer transaction's copy wins");
  assert.deepEqual(home(dev, 11), m, "the magic number is restored");
  assert.deepEqual(home(dev, 12), c);
  const sb = dev.read(map(0));
  assert.equal(be32(sb, Sb.START), 0);
  assert.equal(be32(sb, Sb.SEQUENCE), 5, "transactions 2 and 3 replayed, 4 never began");
  assert.equal(load().needsRecovery, false);
});

Deno.test("commit() flushes the copies before writing the commit block, then flushes it", () => {
  const { dev, map, journal } = memoryJournal(64);
  const events: string[] = [];
  let flushes = dev.flushes;
  dev.onWrite = (block, data) => {
    if (dev.flushes !== flushes) events.push("flush");
    flushes = dev.flushes;
    const type = be32(data, 0) === JBD2_MAGIC ? be32(data, 4) : 0;
    events.push(block === map(0) ? "superblock" : type === Type.COMMIT ? "commit" : "log");
  };
  journal.commit(new Map([[10, pattern(4096, 1)]]));
  if (dev.flushes !== flushes) events.push("flush");
  assert.deepEqual(events, ["superblock", "log", "flush", "commit", "flush"]);
});

Deno.test("recover() replays transactions that wrap around the end of the log", () => {
  const { dev, map, journal, load } = memoryJournal(16); // log blocks 1..15
  const blocks = (homes: number[], seed: number) =>
    new Map(homes.map((h, i) => [h, pattern(4096, seed + i)]));
  journal.commit(blocks([20, 21, 22, 23], 10)); // log 1..6
  journal.commit(blocks([24, 25, 26, 27], 20)); // log 7..12
  journal.checkpoint();
  journal.commit(blocks([30, 31, 32, 33], 30)); // log 13, 14, 15, 1, 2, 3
  journal.commit(blocks([30, 34, 35], 40)); // log 4..8
  assert.equal(be32(dev.read(map(13)), 4), Type.DESCRIPTOR);
  assert.equal(be32(dev.read(map(3)), 4), Type.COMMIT, "the commit block wrapped to block 3");
  assert.equal(be32(dev.read(map(0)), Sb.START), 13);
  for (const b of [30, 31, 32, 33, 34, 35]) assert.deepEqual(home(dev, b), zero(4096));

  assert.deepEqual(load().recover(), { transactions: 2, blocks: 7 });
  const want = new Map([...blocks([30, 31, 32, 33], 30), ...blocks([30, 34, 35], 40)]);
  for (const [b, data] of want) assert.deepEqual(home(dev, b), data, `home ${b}`);
  for (const [b, data] of blocks([24, 25, 26, 27], 20)) assert.deepEqual(home(dev, b), data);
});

Deno.test("commit() spreads a large transaction over several descriptor blocks", () => {
  const { dev, map, journal, load } = memoryJournal(300, 1024); // 124 tags per descriptor
  const blocks = new Map<number, Uint8Array>();
  for (let i = 0; i < 130; i++) {
    blocks.set(500 + i, i === 127 ? magicBlock(1024, i) : pattern(1024, i));
  }
  assert.equal(journal.blocksNeeded(130), 133);
  journal.commit(blocks);
  assert.equal(journal.free, 299 - 133);
  const first = dev.read(map(1)), second = dev.read(map(1 + 1 + 124));
  assert.equal(be32(first, 4), Type.DESCRIPTOR);
  assert.equal(be32(second, 4), Type.DESCRIPTOR);
  const lastTag = 12 + 8 + 16 + 122 * 8;
  assert.equal(be32(first, lastTag), 500 + 123);
  assert.equal(first[lastTag + 7], Flag.SAME_UUID | Flag.LAST_TAG);
  assert.equal(be32(second, 12), 500 + 124);
  assert.equal(be32(dev.read(map(133)), 4), Type.COMMIT);

  assert.deepEqual(load().recover(), { transactions: 1, blocks: 130 });
  for (const [b, data] of blocks) assert.deepEqual(home(dev, b), data, `home ${b}`);
});

/** Commits two transactions, then a third that `crash` tears; recovers from the disk. */
function tornThird(crash: (dev: MemoryDevice, block: number, data: Uint8Array) => void) {
  const { dev, journal, load } = memoryJournal(64);
  const a = pattern(4096, 1), b = pattern(4096, 2);
  journal.commit(new Map([[5, a]]));
  journal.commit(new Map([[6, b]]));
  dev.onWrite = (block, data) => crash(dev, block, data);
  assert.throws(
    () => journal.commit(new Map([[5, pattern(4096, 3)], [7, pattern(4096, 4)]])),
    /crash/,
  );
  dev.onWrite = null;
  assert.deepEqual(load().recover(), { transactions: 2, blocks: 2 });
  assert.deepEqual(home(dev, 5), a, "the torn transaction's copy of 5 is not replayed");
  assert.deepEqual(home(dev, 6), b);
  assert.deepEqual(home(dev, 7), zero(4096));
  return { dev, load };
}

function isHeader(data: Uint8Array, type: number): boolean {
  return be32(data, 0) === JBD2_MAGIC && be32(data, 4) === type;
}

Deno.test("recover() ignores a last transaction whose commit block never reached the disk", () => {
  const { dev, load } = tornThird((_dev, _block, data) => {
    if (isHeader(data, Type.COMMIT)) throw new Error("crash");
  });
  // The journal goes on after recovery, and the torn transaction stays dead.
  const journal = load();
  journal.commit(new Map([[8, pattern(4096, 9)]]));
  assert.deepEqual(load().recover(), { transactions: 1, blocks: 1 });
  assert.deepEqual(home(dev, 8), pattern(4096, 9));
  assert.deepEqual(home(dev, 7), zero(4096));
});

Deno.test("recover() ignores a last transaction torn right after its descriptor", () => {
  tornThird((dev, block, data) => {
    if (!isHeader(data, Type.DESCRIPTOR)) return;
    dev.bytes.set(data.subarray(0, dev.blockSize), block * dev.blockSize);
    throw new Error("crash");
  });
});

Deno.test("recover() of a torn first transaction replays nothing and empties the log", () => {
  const { dev, map, journal, load } = memoryJournal(64);
  dev.onWrite = (_block, data) => {
    if (isHeader(data, Type.COMMIT)) throw new Error("crash");
  };
  assert.throws(() => journal.commit(new Map([[5, pattern(4096, 1)]])), /crash/);
  dev.onWrite = null;
  assert.equal(be32(dev.read(map(0)), Sb.START), 1, "the superblock points at the torn one");
  assert.deepEqual(load().recover(), { transactions: 0, blocks: 0 });
  assert.deepEqual(home(dev, 5), zero(4096));
  assert.equal(be32(dev.read(map(0)), Sb.START), 0);
});

Deno.test("recover() honours a revoke block for the blocks of earlier transactions", () => {
  const { dev, map, journal, load } = memoryJournal(64);
  const a = pattern(4096, 1);
  journal.commit(new Map([[40, a], [41, pattern(4096, 2)]])); // log 1..4
  const id = be32(dev.read(map(1)), 8);
  const revoke = new Uint8Array(4096);
  for (const [at, v] of [[0, JBD2_MAGIC], [4, Type.REVOKE], [8, id + 1], [12, 20], [16, 41]]) {
    setBe32(revoke, at, v);
  }
  const commit = new Uint8Array(4096);
  for (const [at, v] of [[0, JBD2_MAGIC], [4, Type.COMMIT], [8, id + 1]]) setBe32(commit, at, v);
  dev.write(map(5), revoke);
  dev.write(map(6), commit);
  assert.deepEqual(load().recover(), { transactions: 2, blocks: 1 });
  assert.deepEqual(home(dev, 40), a);
  assert.deepEqual(home(dev, 41), zero(4096), "revoked");
});

Deno.test("checkpoint() writes every block home and empties the journal", () => {
  const { dev, map, journal, load } = memoryJournal(64);
  const a = pattern(4096, 1), b = pattern(4096, 2), b2 = pattern(4096, 3);
  journal.commit(new Map([[10, a], [11, b]]));
  journal.commit(new Map([[11, b2], [13, a]]));
  journal.checkpoint();
  assert.deepEqual(home(dev, 10), a);
  assert.deepEqual(home(dev, 11), b2);
  assert.deepEqual(home(dev, 13), a);
  assert.equal(journal.pending.size, 0);
  assert.equal(journal.free, journal.capacity);
  assert.equal(journal.needsRecovery, false);
  assert.equal(be32(dev.read(map(0)), Sb.START), 0);
  const after = load();
  assert.equal(after.needsRecovery, false);
  assert.deepEqual(after.recover(), { transactions: 0, blocks: 0 });
  assert.deepEqual(home(dev, 11), b2);
});

Deno.test("commit() checkpoints first when the log is full, and refuses what never fits", () => {
  const { dev, journal } = memoryJournal(16); // 15 log blocks
  const blocks = (homes: number[]) => new Map(homes.map((h) => [h, pattern(4096, h)]));
  journal.commit(blocks([20, 21, 22, 23]));
  journal.commit(blocks([24, 25, 26, 27]));
  assert.equal(journal.free, 3);
  assert.deepEqual(home(dev, 20), zero(4096));
  journal.commit(blocks([28, 29]));
  assert.deepEqual(home(dev, 20), pattern(4096, 20), "checkpointed to make room");
  assert.deepEqual(home(dev, 27), pattern(4096, 27));
  assert.deepEqual([...journal.pending].sort(), [28, 29]);
  assert.equal(journal.free, 15 - 4);
  const big = blocks(Array.from({ length: 14 }, (_, i) => 40 + i));
  assert.throws(() => journal.commit(big), (e) => {
    assert.ok(e instanceof JournalError);
    assert.match(e.message, /14 blocks needs 16 journal blocks; the log has 15/);
    return true;
  });
});

Deno.test("commit() and checkpoint() refuse a journal loaded dirty until it is recovered", () => {
  const { journal, load } = memoryJournal(64);
  journal.commit(new Map([[10, pattern(4096, 1)]]));
  const after = load();
  assert.throws(() => after.commit(new Map([[11, pattern(4096, 2)]])), JournalError);
  assert.throws(() => after.checkpoint(), /recover/);
  after.recover();
  after.commit(new Map([[11, pattern(4096, 2)]]));
  assert.deepEqual([...after.pending], [11]);
});

Deno.test("Journal.load() refuses a bad superblock with a JournalError naming the problem", () => {
  const cases: [string, (sb: Uint8Array) => void, RegExp, number?][] = [
    ["bad magic", (sb) => setBe32(sb, 0, 0x12345678), /bad journal magic 0x12345678/],
    ["v1 superblock", (sb) => setBe32(sb, 4, 3), /version 1/],
    ["not a superblock", (sb) => setBe32(sb, 4, 1), /blocktype 1/],
    [
      "wrong block size",
      (sb) => setBe32(sb, 0xc, 1024),
      /block size 1024 is not the device's 4096/,
    ],
    ["64bit", (sb) => setBe32(sb, Sb.INCOMPAT, 0x2), /incompat feature 64bit/],
    ["csum v3", (sb) => setBe32(sb, Sb.INCOMPAT, 0x1 | 0x10), /incompat feature csum_v3/],
    ["unknown", (sb) => setBe32(sb, Sb.INCOMPAT, 0x100), /incompat feature 0x100/],
    ["ro_compat", (sb) => setBe32(sb, 0x2c, 0x1), /ro_compat/],
    ["s_maxlen", (sb) => setBe32(sb, 0x10, 65), /s_maxlen 65 is past the journal inode's 64/],
    ["s_first 0", (sb) => setBe32(sb, 0x14, 0), /s_first 0/],
    ["s_first past", (sb) => setBe32(sb, 0x14, 64), /s_first 64/],
    ["s_start past", (sb) => setBe32(sb, Sb.START, 64), /s_start 64/],
  ];
  for (const [what, spoil, message] of cases) {
    const { dev, map } = memoryJournal(64);
    const sb = dev.read(map(0));
    spoil(sb);
    dev.write(map(0), sb);
    assert.throws(() => Journal.load(dev, map, 64), (e) => {
      assert.ok(e instanceof JournalError, what);
      assert.equal(e.name, "JournalError");
      assert.match(e.message, message, what);
      return true;
    });
  }
  const { dev, map } = memoryJournal(64);
  const sb = dev.read(map(0));
  setBe32(sb, Sb.INCOMPAT, 0x1);
  dev.write(map(0), sb);
  assert.equal(Journal.load(dev, map, 64).needsRecovery, false, "revoke is supported");
});

Deno.test({
  name: "e2fsck replays a transaction that commit() wrote into an ext3 image",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withTempDir((dir) => {
      const img = `${dir}/ours.img`;
      mkfsExt3(img, 32);
      const [, last] = freeRanges(img).at(-1)!;
      const homes = [last - 3, last - 2, last];
      const data = [pattern(4096, 1), magicBlock(4096, 2), pattern(4096, 3)];
      const dev = imageDevice(img), map = journalBlocks(img);
      const journal = Journal.load(dev, (i) => map[i], map.length, { now: () => NOW });
      journal.commit(new Map([[homes[0], pattern(4096, 9)]]));
      journal.commit(new Map(homes.map((h, i) => [h, data[i]])));
      dev.bytes[EXT2_INCOMPAT] |= RECOVER;
      saveDevice(dev, img);

      const log = debugfs(img, "logdump");
      assert.match(log, /Found expected sequence 3, type 2 \(commit block\) at block 8/);
      assert.match(log, /No magic number at block 9: end of journal/);
      const replay = fsckFix(img);
      assert.match(replay.out, /recovering journal/);
      assert.equal(replay.code, 0, replay.out); // replayed, and nothing else to fix
      const after = imageDevice(img);
      homes.forEach((h, i) => assert.deepEqual(after.read(h), data[i], `home ${h}`));
      assert.equal(after.bytes[EXT2_INCOMPAT] & RECOVER, 0);
      const check = fsck(img);
      assert.equal(check.code, 0, check.out);
    }),
});

Deno.test({
  name: "recover() replays debugfs's journal transactions as e2fsck does, honouring revokes",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withTempDir((dir) => {
      const img = `${dir}/theirs.img`, copy = `${dir}/copy.img`;
      mkfsExt3(img, 32);
      const [, last] = freeRanges(img).at(-1)!;
      const [x, y, z, w] = [last - 10, last - 9, last - 8, last - 7];
      const one = [pattern(4096, 1), pattern(4096, 2), magicBlock(4096, 3)];
      const two = [pattern(4096, 4)];
      Deno.writeFileSync(`${dir}/one`, new Uint8Array(one.flatMap((b) => [...b])));
      Deno.writeFileSync(`${dir}/two`, two[0]);
      debugfsScript(img, [
        "jo",
        `jw -b ${x},${y},${z} ${dir}/one`, // transaction 1 writes x, y, z
        `jw -r ${y},${z}`, // transaction 2 revokes y and z
        `jw -b ${z} ${dir}/two`, // transaction 3 writes z again: not revoked
        `jw -b ${w} -r ${w} ${dir}/two`, // transaction 4 writes w and revokes it
        "jc",
      ], { write: true });
      Deno.copyFileSync(img, copy);

      const dev = imageDevice(img), map = journalBlocks(img);
      assert.equal(dev.bytes[EXT2_INCOMPAT] & RECOVER, RECOVER, "debugfs set needs_recovery");
      const journal = Journal.load(dev, (i) => map[i], map.length);
      assert.equal(journal.needsRecovery, true);
      assert.deepEqual(journal.recover(), { transactions: 4, blocks: 2 });
      assert.deepEqual(dev.read(x), one[0]);
      assert.deepEqual(dev.read(y), zero(4096), "revoked by transaction 2");
      assert.deepEqual(dev.read(z), two[0], "rewritten after its revoke");
      assert.deepEqual(dev.read(w), zero(4096), "revoked in its own transaction");
      const jsb = dev.read(map[0]);
      assert.equal(be32(jsb, Sb.START), 0);
      assert.equal(be32(jsb, Sb.SEQUENCE), 6);

      fsckFix(copy);
      const theirs = imageDevice(copy);
      for (const b of [x, y, z, w]) assert.deepEqual(dev.read(b), theirs.read(b), `e2fsck: ${b}`);

      dev.bytes[EXT2_INCOMPAT] &= ~RECOVER;
      saveDevice(dev, img);
      const check = fsck(img);
      assert.equal(check.code, 0, check.out);
      assert.match(debugfs(img, "logdump"), /Journal starts at block 0, transaction 6/);
    }),
});
