/**
 * The userland stubs against the ABI table (kernel/abi/syscalls.ts): every stub
 * traps with a row's number and passes exactly that row's number of argument words,
 * and every row has a stub. The stubs are read as source: each call of `trap(Sys.X,
 * ...)` or `trapReply(Sys.X, [...])` in userland/lib is one stub call.
 *
 * And the newest row's stub at work: a remote descriptor closed with
 * closeDescriptor gives EBADF when used or closed again, as does an unknown one.
 */

import assert from "node:assert/strict";
import { SYSCALLS } from "../kernel/abi/syscalls.ts";
import { withCluster } from "./helpers.ts";
import { until } from "./remote_helpers.ts";
import { blankComments, files, read } from "./source_helpers.ts";

/**
 * Splits the text from `open` (the index just after an opening bracket) to its
 * matching closer at the top-level commas; skips strings and template literals
 * (its input has its comments blanked already). Returns the trimmed pieces (an empty last piece, a trailing comma, is
 * dropped) and the index after the closer.
 */
function splitArgs(src: string, open: number): { args: string[]; end: number } {
  const args: string[] = [];
  let depth = 0, start = open;
  for (let i = open; i < src.length; i++) {
    const ch = src[i];
    if (ch === '"' || ch === "'" || ch === "`") {
      for (i++; i < src.length && src[i] !== ch; i++) if (src[i] === "\\") i++;
    } else if ("([{".includes(ch)) {
      depth++;
    } else if (")]}".includes(ch)) {
      if (depth-- === 0) {
        const last = src.slice(start, i).trim();
        if (last !== "" || args.length === 0) args.push(last);
        return { args: args.filter((a, k) => a !== "" || k < args.length - 1), end: i + 1 };
      }
    } else if (ch === "," && depth === 0) {
      args.push(src.slice(start, i).trim());
      start = i + 1;
    }
  }
  throw new Error("unclosed call");
}

interface StubCall {
  file: string;
  line: number;
  row: string | null;
  /** Argument words passed, or null if they cannot be counted (not an array literal). */
  words: number | null;
}

/** Every `trap(...)`, `trapWith2(...)` and `trapReply(...)` call in `paths` (declarations aside). */
function stubCalls(paths: string[], source = read): StubCall[] {
  const out: StubCall[] = [];
  for (const file of paths) {
    const src = blankComments(source(file));
    for (const m of src.matchAll(/(?<![\w.$])(function\s+)?(trap|trapWith2|trapReply)\s*\(/g)) {
      if (m[1]) continue; // the definition
      const { args } = splitArgs(src, m.index! + m[0].length);
      const line = src.slice(0, m.index).split("\n").length;
      const row = /^Sys\.(\w+)$/.exec(args[0] ?? "")?.[1] ?? null;
      let words: number | null = args.length - 1;
      if (m[2] === "trapReply") {
        const list = (args[1] ?? "").trim();
        words = list.startsWith("[")
          ? splitArgs(list, 1).args.filter((a) => a !== "").length
          : null;
      }
      out.push({ file, line, row, words });
    }
  }
  return out;
}

/** The stub calls of `paths` that name no row or pass the wrong number of words. */
function arityMismatches(paths: string[], source = read): string[] {
  const rows = new Map(SYSCALLS.map((s) => [s.name, s.args.length]));
  const out: string[] = [];
  for (const c of stubCalls(paths, source)) {
    const at = `${c.file}:${c.line}`;
    if (c.row === null || !rows.has(c.row)) out.push(`${at}: traps with no row of the table`);
    else if (c.words === null) out.push(`${at}: ${c.row}'s arguments are not a list`);
    else if (c.words !== rows.get(c.row)) {
      out.push(`${at}: ${c.row} takes ${rows.get(c.row)} arguments, the stub passes ${c.words}`);
    }
  }
  return out;
}

const STUBS = () => [...files("userland/lib")];

Deno.test("every stub passes its row's number of arguments", () => {
  const calls = stubCalls(STUBS());
  assert.ok(calls.length >= SYSCALLS.length, `found only ${calls.length} stub calls`);
  assert.deepEqual(arityMismatches(STUBS()), []);
});

Deno.test("every row of the system-call table has a stub in userland/lib", () => {
  const stubbed = new Set(stubCalls(STUBS()).map((c) => c.row));
  assert.deepEqual(SYSCALLS.map((s) => s.name).filter((n) => !stubbed.has(n)), []);
});

Deno.test("the arity check fails on a stub with one argument too many or too few", () => {
  const tree: Record<string, string> = {
    "t/ok.ts": `export function trap(sysno: number, a0 = 0) {}\n` +
      `trap(Sys.kill, pid, signo); // two: trap(Sys.kill)\ntrap(\n  Sys.tripwire_arm,\n  id,\n  f(a, b),\n  off,\n` +
      `  t.len ?? [1, 2].length,\n  flags,\n);\ntrapReply(Sys.wait, [pid, ms], { data: "text" });\n` +
      `trapWith2(Sys.page_fault, va, access);\n`,
    "t/bad.ts": `trap(Sys.kill, pid);\ntrapReply(Sys.wait, [pid, ms, 0]);\n` +
      `trap(Sys.descriptor_close, fd, "a, b");\ntrap(Sys.nosuch);\ntrap(17, 1);\n` +
      `trapReply(Sys.info, args);\ntrapWith2(Sys.page_fault, va);\n`,
  };
  assert.deepEqual(arityMismatches(["t/ok.ts"], (p) => tree[p]), []);
  assert.deepEqual(arityMismatches(["t/bad.ts"], (p) => tree[p]), [
    "t/bad.ts:1: kill takes 2 arguments, the stub passes 1",
    "t/bad.ts:2: wait takes 2 arguments, the stub passes 3",
    "t/bad.ts:3: descriptor_close takes 1 arguments, the stub passes 2",
    "t/bad.ts:4: traps with no row of the table",
    "t/bad.ts:5: traps with no row of the table",
    "t/bad.ts:6: info's arguments are not a list",
    "t/bad.ts:7: page_fault takes 2 arguments, the stub passes 1",
  ]);
});

Deno.test("closeDescriptor: a closed remote descriptor gives EBADF, and so does closing an unknown one", async () => {
  await withCluster(async (c) => {
    c.spawn(0, "rm_owner", ["shut"]);
    await until(c, () => c.node(0).exports.byName("shut") !== undefined, "the export");
    const st = await c.run(1, "rm_client", [JSON.stringify([
      { op: "import", name: "shut", hint: 0 },
      { op: "read", off: 100, count: 4 },
      { op: "close" },
      { op: "read", off: 100, count: 4 },
      { op: "write", off: 0, data: [1] },
      { op: "close" },
      { op: "close", desc: 9999 },
    ])]);
    assert.equal(st.status, 0, `${st.reason}\n${c.console.out}${c.console.err}`);
    const r = c.results().filter((x) => x.step !== undefined);
    assert.deepEqual(r[1].data, [0x34, 0x12, 0, 0], "the descriptor worked before");
    assert.equal(r[2].closed, r[0].desc);
    assert.equal(r[3].error, "EBADF", "READ on a closed descriptor");
    assert.equal(r[4].error, "EBADF", "WRITE on a closed descriptor");
    assert.equal(r[5].error, "EBADF", "closing it again");
    assert.equal(r[6].error, "EBADF", "closing a descriptor that never was");
  });
});
