/**
 * Byte patterns shared by the remote-memory test programs and the tests that check
 * what they wrote (pure: no userland imports, so a test may import it too).
 */

/** Byte i of a run seeded `seed`. */
export function pattern(seed: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + 1) & 255);
}

/** The 8 bytes the spray step writes into slot i: never all zero. */
export function slotPattern(i: number): number[] {
  return [0xa5, i & 255, (i >> 8) & 255, 0x5a, (i * 3) & 255, 0xc3, (i * 7) & 255, 0x3c];
}
