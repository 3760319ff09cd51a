// Suite `tripwire`: 002 §5.3 (Figures 5–7) between two in-process nodes: round
// trips on endpoints with the server idle or busy, requests per second with a
// request in flight on every endpoint, and one-way bandwidth for single messages
// and streams. A full run redraws the figures as SVG plots (tests/bench/plots/), shown in the README.

import { runClusterBench } from "../kernel_runner.ts";
import { median } from "../stats.ts";
import type { CaseResult, Suite } from "../suite.ts";
import { linePlot } from "../plot.ts";
import { toCases } from "./remote.ts";

const PLOTS = new URL("../plots/", import.meta.url);

export const tripwire: Suite = {
  name: "tripwire",
  description: "endpoints, Tripwires and the event queue: round trips, requests/s, bandwidth",
  async run(opts) {
    const results = await runClusterBench("tripwire_bench", opts, {
      nodes: 2,
      server: ["tripwire_bench", "--server"],
      clientNode: 1,
      args: [],
    });
    const cases = toCases(results).map((c) => {
      const size = /^bw-(single|stream)-(\d+)$/.exec(c.name);
      return size ? { ...c, mb_per_s: Number(size[2]) / median(c.samples_us) } : c;
    });
    // Only a full run redraws the figures the README shows.
    if (!opts.quick) await writePlots(cases);
    return cases;
  },
};

function series(cases: CaseResult[], prefix: string, value: (c: CaseResult) => number) {
  return cases.filter((c) => c.name.startsWith(prefix)).map((c) => ({
    x: Number(c.name.slice(prefix.length)),
    y: value(c),
  }));
}

async function writePlots(cases: CaseResult[]): Promise<void> {
  await Deno.mkdir(PLOTS, { recursive: true });
  const med = (c: CaseResult) => median(c.samples_us);
  const figures: [
    string,
    string,
    string,
    { name: string; points: { x: number; y: number }[] }[],
  ][] = [
    ["tripwire-rtt.svg", "connections", "round trip (µs)", [
      { name: "busy", points: series(cases, "rtt-busy-", med) },
      { name: "idle", points: series(cases, "rtt-idle-", med) },
    ]],
    ["tripwire-reqs.svg", "connections with a request in flight", "requests per second", [
      { name: "no-op server", points: series(cases, "reqs-per-s-", (c) => c.ops_per_s ?? 0) },
    ]],
    ["tripwire-bw.svg", "message size (bytes)", "MB/s", [
      { name: "streaming", points: series(cases, "bw-stream-", (c) => c.mb_per_s ?? 0) },
      { name: "single message", points: series(cases, "bw-single-", (c) => c.mb_per_s ?? 0) },
    ]],
  ];
  for (const [file, xLabel, yLabel, lines] of figures) {
    await Deno.writeTextFile(new URL(file, PLOTS), linePlot({ xLabel, yLabel, lines, logX: true }));
  }
}
