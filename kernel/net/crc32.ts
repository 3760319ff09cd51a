/**
 * CRC-32 (IEEE 802.3 polynomial, reflected), the wire format's checksum: a frame
 * damaged in transit or forged carelessly is rejected before anything reads it.
 * Slicing-by-4: four table lookups per 32-bit word, the remainder bytewise.
 */

const T0 = new Int32Array(256);
const T1 = new Int32Array(256);
const T2 = new Int32Array(256);
const T3 = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  T0[n] = c;
}
for (let n = 0; n < 256; n++) {
  T1[n] = T0[T0[n] & 0xff] ^ (T0[n] >>> 8);
  T2[n] = T0[T1[n] & 0xff] ^ (T1[n] >>> 8);
  T3[n] = T0[T2[n] & 0xff] ^ (T2[n] >>> 8);
}

/** The CRC-32 of bytes [start, end) of `bytes`, as an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = -1;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = T3[c & 0xff] ^ T2[(c >>> 8) & 0xff] ^ T1[(c >>> 16) & 0xff] ^ T0[c >>> 24];
  }
  for (; i < end; i++) c = T0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
