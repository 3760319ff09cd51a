// Formatting of bench results: markdown tables for stdout, JSON for --json.

import type { CaseResult } from "./suite.ts";
import { summarize } from "./stats.ts";

export interface SuiteRun {
  name: string;
  cases: CaseResult[];
  /** Measured with --quick: a smoke run, too short for its figures to be compared. */
  quick?: boolean;
}

/** What every table and the JSON of a --quick run say about it. */
export const QUICK_NOTE =
  "quick: a smoke run with short budgets; its figures are not comparable with a full run's";

export interface JsonCase {
  name: string;
  median_us: number;
  p99_us: number;
  n: number;
  ops_per_s?: number;
  mb_per_s?: number;
  server_cpu_us?: number;
}

/** One line describing the machine the numbers come from. */
export function machineLine(): string {
  return `machine: ${Deno.build.target}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}`;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function throughput(c: CaseResult): string {
  const parts: string[] = [];
  if (c.ops_per_s !== undefined) {
    parts.push(`${Math.round(c.ops_per_s).toLocaleString("en-US")} ops/s`);
  }
  if (c.mb_per_s !== undefined) parts.push(`${c.mb_per_s.toFixed(1)} MB/s`);
  return parts.join(", ");
}

/** Markdown for one suite: heading, machine line, table, then case notes. */
export function suiteTable(run: SuiteRun): string {
  // A server CPU column only for a suite that measures it.
  const cpu = run.cases.some((c) => c.server_cpu_us !== undefined);
  const lines = [
    `## suite ${run.name}${run.quick ? " (quick smoke run: figures not comparable)" : ""}`,
    "",
    machineLine(),
    ...(run.quick ? ["", `**${QUICK_NOTE}.**`] : []),
    "",
    `| case | median µs${run.quick ? " (quick)" : ""} | p99 µs | n |${
      cpu ? " server_cpu_us |" : ""
    } throughput |`,
    `| --- | ---: | ---: | ---: |${cpu ? " ---: |" : ""} ---: |`,
  ];
  for (const c of run.cases) {
    const s = summarize(c.samples_us, c.n);
    const server = !cpu ? "" : ` ${c.server_cpu_us?.toFixed(1) ?? ""} |`;
    lines.push(
      `| ${c.name} | ${s.median_us.toFixed(3)} | ${s.p99_us.toFixed(3)} | ${c.n} |${server} ${
        throughput(c)
      } |`,
    );
  }
  const notes = run.cases.filter((c) => c.note);
  if (notes.length) lines.push("", ...notes.map((c) => `- ${c.name}: ${c.note}`));
  return lines.join("\n") + "\n";
}

/** The --json document ("quick" is there only for a --quick run): {"suites":[{"name","cases":[{name,median_us,p99_us,n,ops_per_s?,mb_per_s?,server_cpu_us?}]}]}. */
export function toJson(
  runs: SuiteRun[],
): { quick?: string; suites: { name: string; quick?: true; cases: JsonCase[] }[] } {
  const quick = runs.some((r) => r.quick);
  return {
    ...(quick ? { quick: QUICK_NOTE } : {}),
    suites: runs.map((r) => ({
      name: r.name,
      ...(r.quick ? { quick: true as const } : {}),
      cases: r.cases.map((c) => {
        const s = summarize(c.samples_us, c.n);
        const j: JsonCase = {
          name: c.name,
          median_us: round3(s.median_us),
          p99_us: round3(s.p99_us),
          n: c.n,
        };
        if (c.ops_per_s !== undefined) j.ops_per_s = round3(c.ops_per_s);
        if (c.mb_per_s !== undefined) j.mb_per_s = round3(c.mb_per_s);
        if (c.server_cpu_us !== undefined) j.server_cpu_us = round3(c.server_cpu_us);
        return j;
      }),
    })),
  };
}
