/**
 * Loads and stores of every width through the MMU: values, little-endian layout,
 * accesses straddling the boundary between two pages of one segment, bulk read and
 * write across pages, and `view()` aliasing (and refusing a range over two bindings).
 */

import {
  bind,
  CreateSegment,
  load16,
  load32,
  load64,
  load8,
  PAGE_SIZE,
  read,
  store16,
  store32,
  store64,
  store8,
  view,
  write,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

function bytesAt(va: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => load8(va + i));
}

function describe(fn: () => unknown): string {
  try {
    fn();
    return "no error";
  } catch (e) {
    return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
}

export default function main(): number {
  const seg = CreateSegment(4 * PAGE_SIZE);
  const at = bind(seg);

  // Widths and little-endian layout, aligned.
  store32(at, 0x11223344);
  const le32 = { bytes: bytesAt(at, 4), lo16: load16(at), hi16: load16(at + 2) };
  store64(at + 8, 0x0102030405060708n);
  const le64 = { bytes: bytesAt(at + 8, 8), lo32: load32(at + 8), hi32: load32(at + 12) };
  store16(at + 16, 0xbeef);
  store8(at + 18, 0x7f);
  const small = { u16: load16(at + 16), u8: load8(at + 18), bytes: bytesAt(at + 16, 3) };
  // Values are unsigned and truncated to the width.
  store8(at + 24, 0x1ff);
  store16(at + 26, 0x12345);
  store32(at + 28, -1);
  store64(at + 32, -2n);
  const wrap = {
    u8: load8(at + 24),
    u16: load16(at + 26),
    u32: load32(at + 28),
    u64: load64(at + 32).toString(16),
  };
  // Unaligned within a page.
  store32(at + 41, 0xa1b2c3d4);
  store64(at + 51, 0x1122334455667788n);
  store16(at + 61, 0x0102);
  const unaligned = {
    u32: load32(at + 41),
    u64: load64(at + 51).toString(16),
    u16: load16(at + 61),
    bytes32: bytesAt(at + 41, 4),
  };

  // Straddling the boundary between page 0 and page 1 (page 1 untouched before).
  const edge = at + PAGE_SIZE;
  const straddle: Record<string, unknown> = {};
  store16(edge - 1, 0xaabb);
  straddle.u16 = [load16(edge - 1), load8(edge - 1), load8(edge)];
  for (const back of [1, 2, 3]) {
    store32(edge - back, 0xdeadbeef);
    straddle[`u32_${back}`] = [load32(edge - back), ...bytesAt(edge - back, 4)];
  }
  for (const back of [1, 4, 7]) {
    store64(edge + PAGE_SIZE - back, 0x8877665544332211n); // pages 1|2
    straddle[`u64_${back}`] = [
      load64(edge + PAGE_SIZE - back).toString(16),
      ...bytesAt(edge + PAGE_SIZE - back, 8),
    ];
  }

  // Bulk write and read across three page boundaries.
  const bulk = new Uint8Array(3 * PAGE_SIZE + 200);
  for (let i = 0; i < bulk.length; i++) bulk[i] = (i * 7 + 3) & 0xff;
  write(at + 100, bulk);
  const back = read(at + 100, bulk.length);
  let mismatches = 0;
  for (let i = 0; i < bulk.length; i++) if (back[i] !== bulk[i]) mismatches++;
  const probes = [PAGE_SIZE - 100 - 1, PAGE_SIZE - 100, 2 * PAGE_SIZE - 100, 3 * PAGE_SIZE - 100];
  const bulkProbes = probes.map((i) => [load8(at + 100 + i), bulk[i]]);

  // view(): aliases memory both ways, within one page and across pages of one binding.
  const v = view(at + 16, 64, true);
  v[0] = 0x99;
  store8(at + 17, 0x55);
  const alias = { load: load8(at + 16), viewByte: v[1] };
  const wide = view(at + PAGE_SIZE - 8, 16, true);
  wide[8] = 0x42; // first byte of page 1
  const aliasAcross = { load: load8(at + PAGE_SIZE), length: wide.length };

  // Two bindings side by side: one view may not span them.
  const s1 = CreateSegment(PAGE_SIZE);
  const s2 = CreateSegment(PAGE_SIZE);
  const x = 0x3000_0000;
  bind(s1, x);
  bind(s2, x + PAGE_SIZE);
  store8(x + PAGE_SIZE - 1, 1);
  store8(x + PAGE_SIZE, 2);
  const twoSegments = describe(() => view(x + PAGE_SIZE - 8, 16));
  // The same segment bound twice, adjacent: still two bindings.
  const y = 0x4000_0000;
  bind(s1, y);
  bind(s1, y + PAGE_SIZE);
  const sameSegmentTwice = describe(() => view(y + PAGE_SIZE - 8, 16));
  const withinOne = view(x + PAGE_SIZE - 1, 1)[0];
  const zeroLength = describe(() => view(x, 0));

  // Addresses in the upper half of the 32-bit space, up to the last page below the
  // signal region.
  const high = bind(s2, 0x9000_0000);
  const last = bind(CreateSegment(PAGE_SIZE), 0xfffe_f000);
  store32(high + 4, 0x0badf00d);
  store64(last + PAGE_SIZE - 8, 0xffeeddccbbaa9988n);
  const upper = {
    high,
    last,
    highLoad: load32(high + 4),
    lastLoad: load64(last + PAGE_SIZE - 8).toString(16),
    aliasOfS2: load8(x + PAGE_SIZE), // s2 bound at x+PAGE_SIZE too: holds 2
    highByte: load8(high),
  };

  report({
    at,
    le32,
    le64,
    small,
    wrap,
    unaligned,
    straddle,
    mismatches,
    bulkProbes,
    alias,
    aliasAcross,
    twoSegments,
    sameSegmentTwice,
    withinOne,
    zeroLength,
    upper,
  });
  return 0;
}
