/**
 * Smoke check of the 001 §5 bench pieces in quick mode: the raw-worker 32-byte RPC
 * peers and the mbm_setup program run to the end and report sane samples. Not a
 * timing test: any finite positive median passes (figures come from `deno task bench`).
 */

import assert from "node:assert/strict";
import { messageChannelRpc32, type PeerResult, postMessageRpc32 } from "./bench/peers.ts";
import { runBenchProgramCases } from "./bench/kernel_runner.ts";
import { median } from "./bench/stats.ts";
import { QUICK_NOTE, suiteTable, toJson } from "./bench/report.ts";

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

Deno.test("a --quick run says, in every table header and in its JSON, that its figures are not comparable", () => {
  const cases = [{ name: "null-trap", samples_us: [1, 2, 3], n: 3 }];
  const quick = suiteTable({ name: "trap", cases, quick: true });
  const heading = quick.split("\n")[0];
  assert.match(heading, /^## suite trap \(quick smoke run: figures not comparable\)$/);
  assert.ok(quick.includes(QUICK_NOTE), quick);
  assert.match(quick, /\| case \| median µs \(quick\) \|/);
  const full = suiteTable({ name: "trap", cases });
  assert.equal(full.split("\n")[0], "## suite trap");
  assert.ok(!full.includes("quick"), full);

  const json = toJson([{ name: "trap", cases, quick: true }]);
  assert.equal(json.quick, QUICK_NOTE);
  assert.equal(json.suites[0].quick, true);
  assert.equal(toJson([{ name: "trap", cases }]).quick, undefined);
});

Deno.test("server_cpu_us is a column and a JSON field only where a case measured it", () => {
  const cases = [
    { name: "hy/getattr", samples_us: [90, 100, 110], n: 3, server_cpu_us: 42.25 },
    { name: "fs-small-files", samples_us: [5], n: 1 },
  ];
  const table = suiteTable({ name: "files", cases }).split("\n");
  assert.ok(table.some((l) => l.startsWith("| case |") && l.includes(" server_cpu_us |")));
  assert.ok(table.includes("| hy/getattr | 100.000 | 110.000 | 3 | 42.3 |  |"), table.join("\n"));
  assert.ok(table.includes("| fs-small-files | 5.000 | 5.000 | 1 |  |  |"), table.join("\n"));
  const json = toJson([{ name: "files", cases }]).suites[0].cases;
  assert.deepEqual(json.map((c) => c.server_cpu_us), [42.25, undefined]);
  const plain = suiteTable({ name: "trap", cases: [cases[1]] });
  assert.ok(!plain.includes("server_cpu_us"), plain);
});
