/**
 * The sandbox: a process is a Deno worker with `permissions: "none"`, so everything
 * outside the kernel's traps (files, network, environment, subprocesses) is denied,
 * even for files the node itself can read.
 */

import assert from "node:assert/strict";
import { withNode } from "./helpers.ts";

const DENIED = ["NotCapable", "PermissionDenied"];

async function probe(): Promise<Record<string, string>> {
  let results: Record<string, string> = {};
  await withNode(async (node) => {
    const st = await node.run("sandbox_probe");
    assert.equal(st.status, 0, st.reason);
    [results] = node.results();
  });
  return results;
}

function assertDenied(results: Record<string, string>, keys: string[]): void {
  for (const key of keys) {
    assert.ok(key in results, `probe ${key} ran`);
    assert.ok(DENIED.includes(results[key]), `${key}: expected denial, got ${results[key]}`);
  }
}

Deno.test("sandbox_probe cannot read a host file, not even one the node can read", async () => {
  // The node (this test) may read the project, so a denial is the sandbox's doing.
  assert.match(await Deno.readTextFile(new URL("../deno.json", import.meta.url)), /"tasks"/);
  const r = await probe();
  assertDenied(r, ["readEtc", "readProject", "readProjectAsync", "statProject", "writeTmp"]);
});

Deno.test("sandbox_probe cannot open a socket: Deno.connect and Deno.listen are denied", async () => {
  assertDenied(await probe(), ["connect", "listen", "fetchHttp"]);
});

Deno.test("sandbox_probe cannot read the environment or run a subprocess", async () => {
  assertDenied(await probe(), ["envGet", "command", "hostname"]);
});

Deno.test("sandbox_probe cannot fetch a file:// URL", async () => {
  assertDenied(await probe(), ["fetchFile"]);
});
