// Bench CLI: deno task bench [--suite NAME]... [--json FILE] [--quick]
// Exit codes: 0 all selected suites ran, 1 a suite failed or --json could not
// be written, 2 usage error (unknown flag, unknown suite, unwritable --json).

import { parseArgs } from "node:util";
import { suites } from "./suites/mod.ts";
import { QUICK_NOTE, type SuiteRun, suiteTable, toJson } from "./report.ts";

const USAGE = "usage: deno task bench [--suite NAME]... [--json FILE] [--quick]";
const valid = () => `valid suites: ${suites.map((s) => s.name).join(", ")}`;

function usageError(msg: string): never {
  console.error(`bench: ${msg}\n${USAGE}\n${valid()}`);
  Deno.exit(2);
}

let args;
try {
  args = parseArgs({
    args: Deno.args,
    options: {
      suite: { type: "string", multiple: true },
      json: { type: "string" },
      quick: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (e) {
  usageError(e instanceof Error ? e.message : String(e));
}

const names = args.suite ?? suites.map((s) => s.name);
const unknown = names.filter((n) => !suites.some((s) => s.name === n));
if (unknown.length) usageError(`unknown suite ${unknown.map((n) => `"${n}"`).join(", ")}`);
const selected = suites.filter((s) => names.includes(s.name));

if (args.json !== undefined) {
  const perm = await Deno.permissions.request({ name: "write", path: args.json });
  if (perm.state !== "granted") {
    usageError(
      `no permission to write --json ${args.json}`,
    );
  }
}

if (args.quick) console.log(`bench: ${QUICK_NOTE}\n`);

const runs: SuiteRun[] = [];
let failed = false;
for (const suite of selected) {
  try {
    const cases = await suite.run({ quick: args.quick });
    runs.push({ name: suite.name, cases, quick: args.quick });
    console.log(suiteTable(runs[runs.length - 1]));
  } catch (e) {
    failed = true;
    console.error(`bench: suite ${suite.name} failed: ${e instanceof Error ? e.stack : e}`);
  }
}

if (args.json !== undefined) {
  try {
    await Deno.writeTextFile(args.json, JSON.stringify(toJson(runs)) + "\n");
  } catch (e) {
    console.error(`bench: cannot write ${args.json}: ${e instanceof Error ? e.message : e}`);
    failed = true;
  }
}
Deno.exit(failed ? 1 : 0);
