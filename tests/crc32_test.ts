// The wire checksum (kernel/net/crc32.ts) against the standard check value and a
// bit-at-a-time reference, at every alignment and length the word loop treats apart.

import assert from "node:assert/strict";
import { crc32 } from "../kernel/net/crc32.ts";

/** CRC-32 one bit at a time: slow and plainly right. */
function reference(b: Uint8Array): number {
  let c = -1;
  for (const byte of b) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ -1) >>> 0;
}

Deno.test('crc32 gives the standard check value of "123456789" (0xcbf43926)', () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

Deno.test("crc32 agrees with a bitwise reference at every start alignment, for lengths 0 to 40 and 4 KiB", () => {
  const big = new Uint8Array(4200).map((_, i) => (i * 7919 + (i >> 5)) & 255);
  for (let offset = 0; offset < 8; offset++) {
    for (const n of [...Array(41).keys(), 4096, 4097, 4103]) {
      const view = big.subarray(offset, offset + n);
      assert.equal(crc32(view), reference(view), `offset ${offset}, ${n} bytes`);
      if (n > 6) assert.equal(crc32(view, 3, n - 2), reference(view.subarray(3, n - 2)));
    }
  }
});
