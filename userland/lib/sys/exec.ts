/**
 * Starting a program on another node through its exec server (servers/exec/): the
 * request is written into the server's exported segment with one block WRITE whose
 * notify bit transfers control there (000 §3.1.1: data and control transfer kept
 * apart, control only when asked for).
 */

import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import { bind, CreateSegment, release } from "./memory.ts";
import { write } from "../rt/mmu.ts";
import { awaitRemote, closeDescriptor, remoteCounters, writeBlock } from "./remote.ts";
import { waitForName } from "./names.ts";

/** The exec server's request layout: word 0 the length, then the JSON request. */
export const EXEC_REQUEST_BYTES = 4096;

/** The name the exec server of `node` exports. */
export function execName(node: number): string {
  return `exec.${node}`;
}

/**
 * Asks node `node`'s exec server to start `program` with `args`. A server still
 * starting (its name not yet exported) is waited for, up to `timeoutMs`.
 */
export function startOn(
  node: number,
  program: string,
  args: string[] = [],
  timeoutMs = 5_000,
): void {
  const json = new TextEncoder().encode(JSON.stringify({ program, args }));
  if (json.length + 4 > EXEC_REQUEST_BYTES) {
    throw new SysError(
      Errno.E2BIG,
      "startOn",
      `arguments too long: the request is ${json.length + 4} bytes, at most ${EXEC_REQUEST_BYTES}`,
    );
  }
  const { desc } = waitForName(execName(node), timeoutMs, { hint: node });
  const seg = CreateSegment(EXEC_REQUEST_BYTES);
  try {
    const buf = bind(seg);
    const req = new Uint8Array(json.length + 4);
    new DataView(req.buffer).setUint32(0, json.length, true);
    req.set(json, 4);
    write(buf, req);
    const before = remoteCounters();
    writeBlock(desc, 0, buf, req.length, true);
    awaitRemote(before);
  } finally {
    // Given back whatever failed: the request segment and the server's descriptor.
    release(seg);
    closeDescriptor(desc);
  }
}
