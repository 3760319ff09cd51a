/**
 * Smoke check of the 001 §5 bench pieces in quick mode: the raw-worker 32-byte RPC
 * peers and the mbm_setup program run to the end and report sane samples. Not a
 * timing test: any finite positive median passes (figures come from `deno task bench`).
 */

import assert from "node:assert/strict";
import { messageChannelRpc32, type PeerResult, postMessageRpc32 } from "./bench/peers.ts";
import { runBenchProgramCases } from "./bench/kernel_runner.ts";
import { median } from "./bench/stats.ts";

function assertSane(what: string, r: PeerResult): void {
  assert.ok(r.n > 0, `${what}: n = ${r.n}`);
  assert.ok(r.samples_us.length > 0, `${what}: no samples`);
  const m = median(r.samples_us);
  assert.ok(Number.isFinite(m) && m > 0, `${what}: median ${m}`);
}

Deno.test("bench peer postmessage-rpc-32 runs (quick)", async () => {
  assertSane("postmessage-rpc-32", await postMessageRpc32({ quick: true }));
});

Deno.test("bench peer messagechannel-rpc-32 runs (quick)", async () => {
  assertSane("messagechannel-rpc-32", await messageChannelRpc32({ quick: true }));
});

Deno.test("bench program mbm_setup reports every setup call (quick)", async () => {
  const results = await runBenchProgramCases("mbm_setup", { quick: true });
  assert.deepEqual(results.map((r) => r.case), [
    "create-segment",
    "bind",
    "enable-signal",
    "disable-signal",
    "unbind",
    "release",
  ]);
  for (const r of results) assertSane(r.case, r);
});
