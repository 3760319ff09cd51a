// The kernel's copies into and out of a segment (kernel/memory/segment_access.ts):
// whole words where they are aligned, bytes at either end, at every alignment of
// the destination and of the source array, and nothing outside the range touched.

import assert from "node:assert/strict";
import { PAGE_SIZE, SegMode, SegUnit } from "../kernel/abi/layout.ts";
import { Segment } from "../kernel/memory/segment.ts";
import { loadBytes, storeBytes } from "../kernel/memory/segment_access.ts";

function segment(): Segment {
  return new Segment(1, 5, {
    size: 2 * PAGE_SIZE,
    mode: SegMode.NORMAL,
    unit: SegUnit.CACHE_LINE,
    notifyPolicy: 0,
  });
}

Deno.test("storeBytes and loadBytes move exactly the bytes asked at every alignment of segment and source", () => {
  const seg = segment();
  const backing = new Uint8Array(PAGE_SIZE + 16).map((_, i) => (i * 37 + 11) & 255);
  for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 40, 4093, PAGE_SIZE]) {
    for (let at = 0; at < 8; at++) {
      for (let from = 0; from < 4; from++) {
        seg.bytes.fill(0xee);
        const src = backing.subarray(from, from + n);
        const offset = 100 + at;
        storeBytes(seg, offset, src);
        const where = `${n} bytes at ${offset} from source offset ${from}`;
        assert.deepEqual(seg.bytes.subarray(offset, offset + n), src, where);
        assert.equal(seg.bytes[offset - 1], 0xee, `${where}: the byte before`);
        assert.equal(seg.bytes[offset + n], 0xee, `${where}: the byte after`);
        assert.deepEqual(loadBytes(seg, offset, n), src, `${where}: read back`);
      }
    }
  }
});

Deno.test("storeBytes marks the pages it wrote dirty for eviction when the segment is paged", () => {
  const seg = segment();
  seg.kernelDirty = new Uint8Array(seg.pages);
  storeBytes(seg, PAGE_SIZE - 2, new Uint8Array(4).fill(1)); // across the two pages
  assert.deepEqual([...seg.kernelDirty], [1, 1]);
});
