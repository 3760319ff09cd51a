/**
 * What the RPC test programs (rpc_server.ts, rpc_client.ts, rpc_raw.ts) and
 * tests/rpc_test.ts share: the test server's stubs and the byte patterns echoed.
 */

/** The test server's procedures (tests/programs/rpc_server.ts). */
export const Stub = {
  /** Returns its arguments (written into the reply buffer when they fit, else returned). */
  ECHO: 1,
  /** Not idempotent: increments the counter, returns it (u32). */
  INC: 2,
  /** Throws Error("failed: " + its arguments as text). */
  FAIL: 3,
  /** Reports {slow: true}, then never returns (until the server is killed). */
  SLOW: 4,
  /** For one-way calls: counts the note and adds its u32 argument to a sum. */
  NOTE: 5,
  /** Returns JSON {counter, echoes, notes, noteSum, stats}. */
  STATS: 6,
  /** Waits until the test stores a nonzero word 0 in the server's control segment. */
  HOLD: 7,
  /** Reports {mark, badChecksums, calls} (a one-way marker through the server's FIFO). */
  MARK: 8,
  /** Returns pattern(n, 9) for its u32 argument n (a long result from a short call). */
  BIG: 9,
} as const;

/** `size` bytes that differ between sizes and positions (and are never all zero). */
export function pattern(size: number, seed = 0): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + size * 7 + seed * 13 + 1) & 0xff;
  return out;
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The payload of raw record `i` in a channel whose records carry at most `max` bytes. */
export function rawRecord(i: number, max: number): Uint8Array {
  return pattern((5 + 9 * i) % (max + 1), i);
}

/**
 * A short, exact-enough fingerprint of `bytes` (length and FNV-1a): RESULT lines
 * stay short, since long console lines of concurrent processes may interleave.
 */
export function digest(bytes: Uint8Array): string {
  let h = 0x811c_9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x0100_0193);
  return `${bytes.length}:${(h >>> 0).toString(16).padStart(8, "0")}`;
}
