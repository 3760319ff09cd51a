/**
 * The API as documented (issue 12, items 9–11): one error type for misuse, whether
 * the runtime or the kernel caught it; one name per counter (page faults and
 * protection faults) in every table that shows them; and the README's examples and
 * API tables checked against userland/lib/mod.ts (below, section 3).
 */

import assert from "node:assert/strict";
import { Errno } from "../kernel/abi/errors.ts";
import { type TestNode, withNode } from "./helpers.ts";
import { denoCheck, ROOT } from "./source_helpers.ts";

function assertExit0(node: TestNode, st: { status: number; reason: string }): void {
  assert.equal(
    st.status,
    0,
    `${st.reason}\n--- console ---\n${node.console.out}${node.console.err}`,
  );
}

// ---------------------------------------------------------------------------
// 1. One error type for API misuse

Deno.test("a call given a bad argument throws SysError with an errno, from the runtime or the kernel", async () => {
  await withNode(async (node) => {
    const st = await node.run("api_misuse");
    assertExit0(node, st);
    const got = Object.fromEntries(
      node.results().filter((r) => r.name).map((r) => [r.name, r.other ?? r.code]),
    );
    assert.deepEqual(got, {
      write41: "EMSGSIZE",
      spawnLong: "E2BIG",
      startOnLong: "E2BIG",
      viewZero: "EINVAL",
      view32Unaligned: "EINVAL",
      queueSlots: "EINVAL",
      rawRecords: "EINVAL",
      rawTooLong: "EMSGSIZE",
      bindBadRights: "EINVAL",
      protectBadRights: "EINVAL",
    });
    for (const r of node.results().filter((x) => x.name)) {
      assert.equal(r.errno, Errno[r.code as keyof typeof Errno], `${r.name}: errno matches code`);
    }
  });
});

// ---------------------------------------------------------------------------
// 2. One meaning per word: pagefaults and protfaults

Deno.test("info() and ps name page faults pagefaults and protection faults protfaults, everywhere", async () => {
  await withNode(async (node) => {
    const st = await node.run("api_misuse");
    assertExit0(node, st);
    const r = node.results().find((x) => x.counters);
    assert.equal(r.value, 3, "the repaired store landed");
    assert.equal(r.pagefaults, 2, "two first touches");
    assert.equal(r.protfaults, 1, "one protection fault, handled");
    for (
      const [what, keys] of [
        ["info(self)", r.selfKeys],
        ["info(ps)", Object.keys(r.psRow)],
        ["info(stats)", Object.keys(r.stats)],
      ] as const
    ) {
      assert.ok(keys.includes("pagefaults"), `${what} has pagefaults: ${keys}`);
      assert.ok(keys.includes("protfaults"), `${what} has protfaults: ${keys}`);
      assert.ok(!keys.includes("faults"), `${what} has no ambiguous "faults"`);
    }
    assert.ok(r.psRow.pagefaults >= 2);
    assert.ok(r.stats.pagefaults >= r.psRow.pagefaults, "the node counts every process's");
    assert.equal(node.kernel.stats.protfaults, 1);
  });
});

// ---------------------------------------------------------------------------
// 3. The README: its examples type-check, its API tables name what mod.ts exports

const README = Deno.readTextFileSync(new URL("README.md", ROOT));
const MOD = new URL("userland/lib/mod.ts", ROOT).href;

/** The README's ```ts blocks, each with the line it starts on. */
function examples(): { line: number; code: string }[] {
  const out: { line: number; code: string }[] = [];
  const lines = README.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```ts") continue;
    const start = i + 1;
    while (++i < lines.length && lines[i].trim() !== "```");
    out.push({ line: start + 1, code: lines.slice(start, i).join("\n") });
  }
  return out;
}

/** The first column's cells of every table whose header's first cell is "call". */
function tableCalls(): string[] {
  const cells: string[] = [];
  let inApi = false;
  for (const line of README.split("\n")) {
    if (!line.startsWith("|")) {
      inApi = false;
      continue;
    }
    // Split on pipes not escaped (`READ\|WRITE` stays one cell).
    const first = line.split(/(?<!\\)\|/)[1].trim();
    if (/^-+$/.test(first)) continue;
    if (first === "call") inApi = true;
    else if (inApi) cells.push(first);
  }
  return cells;
}

interface Documented {
  /** Top-level names (mod.X), members of a class (X#m) and statics (X.m). */
  names: Set<string>;
  members: [cls: string, member: string][];
  statics: [cls: string, member: string][];
}

/**
 * The names the API tables document. In a cell, each `code` span names a call:
 * `spawn(...)`, `new RpcServer(...)` (which makes RpcServer the current class),
 * `RpcClient.connect(...)` (a static, also current), `.call(...)` (a member of the
 * current class), `load8/16/32/64(va)` (four names).
 */
function documented(): Documented {
  const d: Documented = { names: new Set(), members: [], statics: [] };
  let cls = "";
  for (const cell of tableCalls()) {
    for (const [, span] of cell.matchAll(/`([^`]+)`/g)) {
      const member = /^\.([A-Za-z_$][\w$]*)/.exec(span);
      if (member) {
        assert.ok(cls, `${span}: a member with no class before it`);
        d.members.push([cls, member[1]]);
        continue;
      }
      const m = /^(new\s+)?([A-Za-z_$][\w$]*)((?:\/\d+)*)(?:\.([A-Za-z_$][\w$]*))?/.exec(span);
      if (!m) continue; // a literal such as "ps"
      const [, isNew, name, widths, stat] = m;
      if (widths) {
        const base = name.replace(/\d+$/, "");
        for (const w of [name.slice(base.length), ...widths.split("/").slice(1)]) {
          d.names.add(base + w);
        }
        continue;
      }
      d.names.add(name);
      if (isNew) cls = name;
      if (stat) {
        d.statics.push([name, stat]);
        cls = name;
      }
      // A factory's result is the class its members belong to.
      if (name === "connectEndpoint") cls = "Endpoint";
    }
  }
  return d;
}

Deno.test("every ts example in the README is a module that type-checks against userland/lib", async () => {
  const blocks = examples();
  assert.ok(blocks.length >= 7, `${blocks.length} examples`);
  const dir = await Deno.makeTempDir({ prefix: "readme_examples_" });
  try {
    const files: string[] = [];
    for (const b of blocks) {
      assert.match(b.code, /from "\.\.\/lib\/mod\.ts"/, `README line ${b.line}: imports mod.ts`);
      // As it would sit in userland/programs/: "../lib/" is the runtime.
      const code = b.code.replaceAll('from "../lib/', `from "${new URL("userland/lib/", ROOT)}`);
      const file = `${dir}/readme_line_${b.line}.ts`;
      await Deno.writeTextFile(file, code);
      files.push(file);
    }
    const r = await denoCheck(files);
    assert.ok(r.ok, `README examples (files named by their README line):\n${r.output}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mod.ts exports every name the README's API tables document, and each member exists", async () => {
  const mod = await import(MOD);
  const d = documented();
  assert.ok(d.names.size > 100, `${d.names.size} names documented`);
  // Values are checked here; a name mod.ts does not export as a value must be a type,
  // and members must exist on their classes: both in one type check.
  const lines = [`import type * as mod from "${MOD}";`];
  let i = 0;
  for (const name of d.names) if (!(name in mod)) lines.push(`type T${i++} = mod.${name};`);
  for (const [cls, m] of d.members) {
    assert.equal(typeof mod[cls], "function", `${cls} (for .${m}) is an exported class`);
    lines.push(`declare const v${i}: mod.${cls};`, `v${i++}.${m};`);
  }
  for (const [cls, m] of d.statics) {
    assert.equal(typeof mod[cls]?.[m], "function", `${cls}.${m} is exported`);
  }
  const dir = await Deno.makeTempDir({ prefix: "readme_names_" });
  try {
    await Deno.writeTextFile(`${dir}/names.ts`, lines.join("\n") + "\n");
    const r = await denoCheck([`${dir}/names.ts`]);
    assert.ok(r.ok, `names documented but not exported (or no such member):\n${r.output}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every call mod.ts exports is in a README API table, and every constant in the README", async () => {
  const mod = await import(MOD);
  const d = documented();
  const missingCalls: string[] = [], missingConstants: string[] = [];
  for (const [name, value] of Object.entries(mod)) {
    if (typeof value === "function") {
      if (!d.names.has(name)) missingCalls.push(name);
    } else if (!README.includes(`\`${name}\``) && !README.includes(`\`${name}(`)) {
      missingConstants.push(name);
    }
  }
  assert.deepEqual(missingCalls, [], "calls exported by mod.ts but in no API table");
  assert.deepEqual(missingConstants, [], "constants exported by mod.ts but not in the README");
});

Deno.test("the README's info() table names every kind and exactly the fields each one has", async () => {
  const { TestCluster } = await import("./helpers.ts");
  const c = new TestCluster(2);
  let got: Record<string, string[]>;
  try {
    await c.startClerks(600_000);
    const st = await c.run(0, "api_info");
    assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
    got = Object.fromEntries(c.results().map((r) => [r.kind, r.keys]));
  } finally {
    c.close();
  }
  const table: Record<string, string[]> = {};
  let inInfo = false;
  const lines = README.split("\n");
  for (const [i, line] of lines.entries()) {
    if (!line.startsWith("|")) {
      inInfo = false;
      continue;
    }
    const [, first, second] = line.split(/(?<!\\)\|/).map((x) => x.trim());
    const header = /^\|\s*-+\s*\|/.test(lines[i + 1] ?? "");
    if (header) inInfo = first === "`info(kind)`";
    else if (inInfo && !/^-+$/.test(first)) {
      // The fields are the code spans that come before any parenthesis, or after
      // a closing one: `bindings` (`pid`, …) lists a nested row's fields.
      const top = second.replace(/\([^)]*\)/g, "");
      table[JSON.parse(first.replaceAll("`", ""))] = [...top.matchAll(/`([^`]+)`/g)]
        .map((m) => m[1]).sort();
    }
  }
  assert.deepEqual(Object.keys(table).sort(), Object.keys(got).sort(), "the kinds");
  for (const kind of Object.keys(got)) {
    assert.deepEqual(table[kind], got[kind], `info("${kind}")'s fields`);
  }
});
