/**
 * The network interface seam (kernel/net/nic.ts): a protocol registers a frame
 * type with its body decoder and receiver, and the interface checks the outer
 * header, the addresses and the body before a receiver sees a frame. The raw
 * protocol here is a stand-in for the next issues' NIC device: a new kind of frame
 * is a decoder and a receiver, nothing in the kernel's switch statements.
 */

import assert from "node:assert/strict";
import { NetworkInterface } from "../kernel/net/nic.ts";
import { Tracer } from "../kernel/trace.ts";
import {
  checkFrame,
  CHECKSUM_BYTES,
  frameBody,
  FrameType,
  newFrame,
  OUTER_HEADER_BYTES,
  sealFrame,
  WIRE_VERSION,
  type WireError,
} from "../kernel/net/wire.ts";
import { buildControl, decodeControl } from "../kernel/net/control_frames.ts";
import { buildFrame, decodeFrame, HEADER_BYTES } from "../kernel/remote/memory_frames.ts";

/** A raw frame type no kernel protocol uses. */
const RAW = 200;

function rawFrame(src: number, dst: number, body: Uint8Array): Uint8Array {
  const b = newFrame(RAW, src, dst, body.length);
  b.set(body, OUTER_HEADER_BYTES);
  return sealFrame(b);
}

/** A raw body: one length byte, then that many bytes. */
function decodeRaw(b: Uint8Array): { data: Uint8Array } | WireError {
  const body = frameBody(b);
  if (body.length === 0 || body[0] !== body.length - 1) return "bad-payload";
  return { data: body.subarray(1) };
}

function nic(node: number) {
  const warnings: string[] = [];
  const sink = { write: (_fd: number, s: string) => void warnings.push(s) };
  const n = new NetworkInterface(node, new Tracer(sink, node, new Set()));
  return { n, warnings };
}

Deno.test("a registered frame type reaches its protocol, decoded, and nothing else does", () => {
  const { n, warnings } = nic(1);
  const got: number[][] = [];
  n.register(RAW, decodeRaw, (f) => got.push([...f.data]));
  n.receive(rawFrame(2, 1, new Uint8Array([3, 7, 8, 9])), 2);
  assert.deepEqual(got, [[7, 8, 9]]);
  assert.deepEqual(n.stats, { received: 1, malformed: 0, spoofed: 0 });

  // A body its own decoder rejects is malformed, with the decoder's reason.
  n.receive(rawFrame(2, 1, new Uint8Array([5, 1])), 2);
  // Lying addresses: claims another source, or is for another node.
  n.receive(rawFrame(3, 1, new Uint8Array([0])), 2);
  n.receive(rawFrame(2, 4, new Uint8Array([0])), 2);
  // A corrupt checksum, a wrong version, an unknown type.
  const corrupt = rawFrame(2, 1, new Uint8Array([0])).slice();
  corrupt[OUTER_HEADER_BYTES] ^= 1;
  n.receive(corrupt, 2);
  const old = rawFrame(2, 1, new Uint8Array([0])).slice();
  old[2] = WIRE_VERSION - 1;
  n.receive(old, 2);
  const unknown = newFrame(201, 2, 1, 0);
  n.receive(sealFrame(unknown), 2);
  assert.deepEqual(got, [[7, 8, 9]], "no bad frame reached the receiver");
  assert.deepEqual(n.stats, { received: 1, malformed: 4, spoofed: 2 });
  assert.deepEqual(
    warnings.filter((w) => w.includes("malformed")).map((w) => w.trim().split(": ").pop()),
    ["bad-payload", "bad-checksum", "bad-version", "bad-type"],
  );
});

Deno.test("a frame type has one protocol; a known type nobody here takes is ignored", () => {
  const { n } = nic(1);
  n.register(RAW, decodeRaw, () => {});
  assert.throws(() => n.register(RAW, decodeRaw, () => {}), /frame type 200 is taken/);
  // CONTROL after the handshake: known to this version, taken by no kernel protocol.
  n.receive(buildControl(2, 1, 1, new Uint8Array(16)), 2);
  assert.deepEqual(n.stats, { received: 0, malformed: 0, spoofed: 0 });
});

Deno.test("without a transport the interface is a loopback to itself only", () => {
  const { n } = nic(5);
  const got: number[] = [];
  n.register(RAW, decodeRaw, (f) => got.push(f.data.length));
  n.send(5, rawFrame(5, 5, new Uint8Array([2, 1, 1])));
  n.send(6, rawFrame(5, 6, new Uint8Array([0])));
  assert.deepEqual(got, [2]);
  assert.equal(n.reachable(5), true);
  assert.equal(n.reachable(6), false);
});

Deno.test("the outer header is 12 bytes; memory and control bodies follow it", () => {
  const raw = rawFrame(2, 1, new Uint8Array([0]));
  assert.equal(raw.length, OUTER_HEADER_BYTES + 1 + CHECKSUM_BYTES);
  assert.equal(checkFrame(raw), null);
  assert.equal(checkFrame(raw.subarray(0, 8)), "short");

  const p = new Uint8Array([1, 2, 3, 4]);
  const w = buildFrame(FrameType.WRITE, 2, 1, 9, 77, 5, 0, 1, 64, 4, 0, 0, 0, p);
  assert.equal(w.length, HEADER_BYTES + 4 + CHECKSUM_BYTES);
  const f = decodeFrame(w);
  assert.ok(typeof f !== "string");
  assert.deepEqual(
    [f.type, f.srcNode, f.dstNode, f.srcPid, f.seq, f.exportId, f.genLo, f.offset, f.count],
    [FrameType.WRITE, 2, 1, 9, 77, 5, 1, 64, 4],
  );
  assert.deepEqual([...f.payload], [1, 2, 3, 4]);
  // A WRITE whose payload disagrees with its count, and a memory decoder given a raw frame.
  const lying = buildFrame(FrameType.WRITE, 2, 1, 9, 77, 5, 0, 1, 64, 8, 0, 0, 0, p);
  assert.equal(decodeFrame(lying), "bad-payload");
  assert.equal(decodeFrame(raw), "bad-type");

  const c = decodeControl(buildControl(3, 0, 2, new Uint8Array([9, 9])));
  assert.ok(typeof c !== "string");
  assert.deepEqual([c.srcNode, c.kind, [...c.body]], [3, 2, [9, 9]]);
  assert.equal(decodeControl(w), "bad-type");
});
