/**
 * The TCP transport's control frames and its proof of the cluster secret. Host layer
 * (WebCrypto). The conversation on one connection, each side sending the same:
 *
 *   HELLO  nonce(16)                     first, at once
 *   AUTH   mac(32) incarnation(4)        on the other's HELLO
 *   ADMIT  (empty)                       once the other's AUTH checks out and the
 *                                        node accepts the link (tcp_transport.ts)
 *   REFUSE reason (UTF-8)                instead of ADMIT; then the node hangs up
 *   PING   token(8) / PONG token(8)      any time after AUTH: "is this link alive?"
 *
 * mac = HMAC-SHA256(secret, "rm-auth" ‖ opener ‖ their nonce ‖ my nonce ‖ my id ‖
 * their id ‖ my incarnation), `opener` saying whether I opened the connection.
 * Binding both nonces and the role means an AUTH computed for one connection proves
 * nothing on another, so a node cannot be used as an oracle to relay; binding the
 * incarnation means the sender's boot is as authentic as its id.
 */

import { buildControl } from "../net/control_frames.ts";

export const Control = { HELLO: 1, AUTH: 2, ADMIT: 3, REFUSE: 4, PING: 5, PONG: 6 } as const;
export const NONCE_BYTES = 16;
export const MAC_BYTES = 32;
/** An AUTH body: the MAC, then the sender's incarnation (little-endian). */
export const AUTH_BYTES = MAC_BYTES + 4;
export const TOKEN_BYTES = 8;
/** The longest refusal reason sent (a handshake frame stays small). */
export const REASON_BYTES = 200;

const encoder = new TextEncoder();

/** A control frame from `from`; its destination is not known before the handshake. */
export const control = (from: number, kind: number, body: Uint8Array = new Uint8Array(0)) =>
  buildControl(from, 0, kind, body);

/** A REFUSE frame carrying `reason`, cut to REASON_BYTES. */
export function refusal(from: number, reason: string): Uint8Array {
  return control(from, Control.REFUSE, encoder.encode(reason).subarray(0, REASON_BYTES));
}

/** Constant-time comparison of two MACs. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** What one AUTH is computed over. */
export interface AuthInput {
  /** True if the sender opened the connection. */
  opener: boolean;
  /** The receiver's nonce, then the sender's. */
  toNonce: Uint8Array;
  fromNonce: Uint8Array;
  from: number;
  to: number;
  /** The sender's incarnation. */
  incarnation: number;
}

/** The cluster secret as an HMAC key; throws RangeError if it is too short. */
export function importSecret(secret: string): Promise<CryptoKey> {
  if (secret.length < 8) {
    throw new RangeError("the cluster secret must have at least 8 characters");
  }
  const key = encoder.encode(secret);
  return crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** The MAC an AUTH from `a.from` to `a.to` must carry. */
export async function authMac(key: Promise<CryptoKey>, a: AuthInput): Promise<Uint8Array> {
  const msg = new Uint8Array(8 + 2 * NONCE_BYTES + 8);
  msg.set(encoder.encode("rm-auth"));
  msg[7] = a.opener ? 1 : 0;
  msg.set(a.toNonce, 8);
  msg.set(a.fromNonce, 8 + NONCE_BYTES);
  const v = new DataView(msg.buffer);
  v.setUint16(8 + 2 * NONCE_BYTES, a.from, true);
  v.setUint16(10 + 2 * NONCE_BYTES, a.to, true);
  v.setUint32(12 + 2 * NONCE_BYTES, a.incarnation >>> 0, true);
  return new Uint8Array(await crypto.subtle.sign("HMAC", await key, msg));
}

/** An AUTH body: `mac` and the sender's incarnation. */
export function authBody(mac: Uint8Array, incarnation: number): Uint8Array {
  const body = new Uint8Array(AUTH_BYTES);
  body.set(mac);
  new DataView(body.buffer).setUint32(MAC_BYTES, incarnation >>> 0, true);
  return body;
}

/** The incarnation an AUTH body (AUTH_BYTES long) claims. */
export function authIncarnation(body: Uint8Array): number {
  return new DataView(body.buffer, body.byteOffset, body.length).getUint32(MAC_BYTES, true);
}
