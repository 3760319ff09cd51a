/**
 * The key-value service's protocol (servers/kv/ and userland/programs/kv.ts): stub
 * numbers and the marshalling both ends share, on the RPC library (rpc.ts).
 *
 * Keys and values are strings, carried as UTF-8; a key is 1 to KV_MAX_KEY bytes,
 * a value 0 to KV_MAX_VALUE bytes (so that a PUT fits in one RPC message).
 *
 *   stub          arguments                      result
 *   GET   = 1     key                            [u8 found] value (empty if not found)
 *   PUT   = 2     [u16 keyLen] key value         [u8 replaced]
 *   DEL   = 3     key                            [u8 existed]
 *   LIST  = 4     key to list after (may be      [u16 count] [u8 more]
 *                 empty: from the first)           count × ([u16 keyLen] key), sorted
 *   STATS = 5     -                              UTF-8 JSON {keys, bytes, rpc: {calls, …}}
 *
 * All integers are little-endian. LIST returns as many keys as fit in one reply,
 * in UTF-16 code-unit order; `more` = 1 says to call again after the last one. A
 * malformed request fails the call (the client sees EIO with the server's message).
 */

import { RPC_MAX_PAYLOAD } from "../../userland/lib/mod.ts";

/** The service name the server exports (`rpc.kv`) unless told otherwise. */
export const KV_SERVICE = "kv";

export const KvStub = { GET: 1, PUT: 2, DEL: 3, LIST: 4, STATS: 5 } as const;

/** The longest key, in UTF-8 bytes. */
export const KV_MAX_KEY = 64;
/** The longest value, in UTF-8 bytes (1.9 KiB): a PUT of the longest key and value fits a message. */
export const KV_MAX_VALUE = 1950;
if (2 + KV_MAX_KEY + KV_MAX_VALUE > RPC_MAX_PAYLOAD) {
  throw new RangeError(`kv: a PUT of ${2 + KV_MAX_KEY + KV_MAX_VALUE} bytes exceeds one message`);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeText(text: string): Uint8Array {
  return encoder.encode(text);
}

export function decodeText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Checks a key's UTF-8 bytes; throws a RangeError naming the problem. */
export function checkKey(key: Uint8Array): void {
  if (key.length === 0) throw new RangeError("empty key");
  if (key.length > KV_MAX_KEY) {
    throw new RangeError(`key of ${key.length} bytes (at most ${KV_MAX_KEY})`);
  }
}

/** Checks a value's UTF-8 bytes. */
export function checkValue(value: Uint8Array): void {
  if (value.length > KV_MAX_VALUE) {
    throw new RangeError(`value of ${value.length} bytes (at most ${KV_MAX_VALUE})`);
  }
}

/** PUT's arguments: [u16 keyLen] key value. */
export function encodePut(key: string, value: string): Uint8Array {
  const k = encoder.encode(key), v = encoder.encode(value);
  checkKey(k);
  checkValue(v);
  const out = new Uint8Array(2 + k.length + v.length);
  out[0] = k.length & 0xff;
  out[1] = k.length >> 8;
  out.set(k, 2);
  out.set(v, 2 + k.length);
  return out;
}

/** Splits PUT's arguments into key and value bytes (views of `args`). */
export function decodePut(args: Uint8Array): { key: Uint8Array; value: Uint8Array } {
  if (args.length < 2) throw new RangeError("PUT: no key length");
  const n = args[0] | (args[1] << 8);
  if (2 + n > args.length) throw new RangeError(`PUT: key of ${n} bytes in ${args.length}`);
  const key = args.subarray(2, 2 + n), value = args.subarray(2 + n);
  checkKey(key);
  checkValue(value);
  return { key, value };
}

/** A LIST reply: the keys in it, and whether more follow. */
export interface ListPage {
  keys: string[];
  more: boolean;
}

/**
 * Writes a LIST reply into `reply` from the sorted `keys`: as many as fit after the
 * 3-byte header. Returns the reply's length.
 */
export function encodeListPage(keys: readonly string[], reply: Uint8Array): number {
  let at = 3, count = 0;
  for (const key of keys) {
    const k = encoder.encode(key);
    if (at + 2 + k.length > reply.length) break;
    reply[at] = k.length & 0xff;
    reply[at + 1] = k.length >> 8;
    reply.set(k, at + 2);
    at += 2 + k.length;
    count++;
  }
  reply[0] = count & 0xff;
  reply[1] = count >> 8;
  reply[2] = count < keys.length ? 1 : 0;
  return at;
}

export function decodeListPage(bytes: Uint8Array): ListPage {
  if (bytes.length < 3) throw new RangeError("LIST: short reply");
  const count = bytes[0] | (bytes[1] << 8);
  const keys: string[] = [];
  let at = 3;
  for (let i = 0; i < count; i++) {
    const n = bytes[at] | (bytes[at + 1] << 8);
    if (at + 2 + n > bytes.length) throw new RangeError("LIST: truncated reply");
    keys.push(decoder.decode(bytes.subarray(at + 2, at + 2 + n)));
    at += 2 + n;
  }
  return { keys, more: bytes[2] === 1 };
}
