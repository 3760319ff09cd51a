/**
 * The layout's import rules, checked so nobody has to remember them:
 * - the kernel core never touches the host (no `Deno.` outside kernel/host/) and
 *   never imports userland;
 * - userland/lib reaches into kernel/ only for the ABI and the two pieces of emulated
 *   hardware it shares with the kernel (the page-table walk, the signal FIFO ring);
 * - userland/lib is layered: rt/ (runtime core) below sys/ (system-call stubs) below
 *   dev/ (device drivers) below ipc/ (RPC, endpoints, queues); a layer imports only
 *   itself and those below;
 * - a server (servers/NAME/) imports userland/lib and its own folder, never another
 *   server's files; a program (userland/programs/) imports userland/lib, its own
 *   folder, a server's protocol (servers/NAME/protocol.ts) and the table of
 *   servers init starts (servers/table.ts), nothing else of a server; neither uses
 *   message passing. Tests and test programs may import a server's protocol too
 *   (they are clients); the rule does not bind them.
 */

import assert from "node:assert/strict";

import { blankComments, files, read, ROOT } from "./source_helpers.ts";

/** The resolved project paths a file imports. */
function imports(path: string): string[] {
  const out: string[] = [];
  for (const m of read(path).matchAll(/^\s*(?:import|export)[^"']*?from\s+["']([^"']+)["']/gm)) {
    const spec = m[1];
    if (!spec.startsWith(".")) continue;
    out.push(new URL(spec, new URL(path, ROOT)).pathname.slice(ROOT.pathname.length));
  }
  return out;
}

const USERLAND_MAY_USE = [
  /^kernel\/abi\//,
  /^kernel\/memory\/page_table\.ts$/,
  /^kernel\/signal\/fifo_ring\.ts$/,
];

Deno.test("kernel core neither uses Deno.* nor imports userland", () => {
  for (const f of files("kernel")) {
    for (const i of imports(f)) assert.ok(!i.startsWith("userland/"), `${f} imports ${i}`);
    if (f.startsWith("kernel/host/")) continue;
    const code = blankComments(read(f));
    assert.ok(!/\bDeno\./.test(code), `${f} uses Deno.* outside kernel/host/`);
  }
});

/**
 * Old paths kept as re-export shims because the README documented them, each with
 * what it may import beyond userland/lib (the kv protocol moved beside its server).
 */
const USERLAND_SHIMS: Record<string, RegExp | null> = {
  "userland/lib/kv_protocol.ts": /^servers\/kv\/protocol\.ts$/,
};

Deno.test("userland/lib imports only the ABI and the shared emulated hardware", () => {
  for (const f of files("userland/lib")) {
    for (const i of imports(f)) {
      if (i.startsWith("userland/lib/")) continue;
      if (USERLAND_SHIMS[f]?.test(i)) continue;
      assert.ok(USERLAND_MAY_USE.some((r) => r.test(i)), `${f} imports ${i}`);
    }
  }
});

Deno.test("every userland/lib path the README names exists (old paths as re-exports)", () => {
  const readme = read("README.md");
  const named = new Set<string>();
  for (const [, p] of readme.matchAll(/`userland\/lib\/([\w/]+\.ts)`/g)) named.add(p);
  for (const [, p] of readme.matchAll(/"\.\.\/lib\/([\w/]+\.ts)"/g)) named.add(p);
  assert.ok(named.has("rpc.ts") && named.has("mod.ts"), [...named].join(" "));
  for (const p of named) {
    const path = `userland/lib/${p}`;
    assert.doesNotThrow(() => Deno.statSync(new URL(path, ROOT)), `${path} is gone`);
  }
  for (const [shim, target] of [["rpc.ts", "ipc/rpc.ts"], ["dqueue.ts", "ipc/dqueue.ts"]]) {
    assert.ok(read(`userland/lib/${shim}`).includes(`export * from "./${target}";`), shim);
  }
});

/** userland/lib's layers, lowest first; files directly in userland/lib are on top. */
const LAYERS = [
  "userland/lib/rt",
  "userland/lib/sys",
  "userland/lib/dev",
  "userland/lib/ipc",
  "userland/lib/fs",
  "userland/lib",
];

/**
 * The process entry is the runtime's top as well as its core: it runs the program and
 * ends the process through the exit stub.
 */
const LAYER_EXCEPTIONS = new Set([
  "userland/lib/rt/process_entry.ts -> userland/lib/sys/process.ts",
]);

/** The imports among `paths` that go up userland/lib's layers. */
function layerViolations(paths: string[], source = read): string[] {
  const out: string[] = [];
  for (const f of paths) {
    const from = LAYERS.indexOf(folderOf(f));
    for (const { to } of importEdges(f, source)) {
      const level = LAYERS.indexOf(folderOf(to));
      if (level < 0 || from < 0 || level <= from) continue;
      if (!LAYER_EXCEPTIONS.has(`${f} -> ${to}`)) out.push(`${f} imports ${to}`);
    }
  }
  return out;
}

Deno.test("userland/lib's layers import only downward: rt, then sys, then ipc", () => {
  assert.deepEqual(layerViolations([...files("userland/lib")]), []);
  const tree: Record<string, string> = {
    "userland/lib/rt/trap.ts": `import { x } from "../sys/memory.ts";\n`,
    "userland/lib/sys/memory.ts": `import { t } from "../rt/trap.ts";\n`,
    "userland/lib/ipc/rpc.ts": `import { m } from "../sys/memory.ts";\n`,
  };
  assert.deepEqual(layerViolations(Object.keys(tree), (p) => tree[p]), [
    "userland/lib/rt/trap.ts imports userland/lib/sys/memory.ts",
  ]);
});

Deno.test("userland/lib and servers/ have no import cycle", () => {
  const cycles = importCycles([...files("userland/lib"), ...files("servers")]);
  assert.deepEqual(cycles.map((c) => c.join(" -> ")), []);
});

/** Names of sys/ and ipc/ that are the runtime's own plumbing, not programs' API. */
const NOT_PUBLIC = new Set(["discardLines", "discardSegmentLines", "putData"]);

/** A module whose name starts with "_" is private to its folder (Deno's convention). */
const isPrivate = (path: string) => path.slice(path.lastIndexOf("/") + 1).startsWith("_");

Deno.test("userland/lib/mod.ts exports every public name of sys/ and ipc/", () => {
  // Only what mod.ts exports counts, not names in its comments (its @example).
  const mod = blankComments(read("userland/lib/mod.ts"));
  const re = /^export\s+(?:async\s+)?(?:function|class|const|let|interface|type|enum)\s+(\w+)/gm;
  for (const f of [...files("userland/lib/sys"), ...files("userland/lib/ipc")]) {
    if (isPrivate(f)) continue;
    for (const [, name] of read(f).matchAll(re)) {
      if (NOT_PUBLIC.has(name)) continue;
      assert.ok(new RegExp(`\\b${name}\\b`).test(mod), `mod.ts does not export ${name} (${f})`);
    }
  }
});

/** What of servers/ a program may import: a server's protocol, and init the servers' table. */
const SERVER_PROTOCOL = /^servers\/(?:[^/]+\/protocol|table)\.ts$/;

/**
 * The imports of `paths` (servers and programs) that break the layout: a server
 * (servers/NAME/...) imports userland/lib and servers/NAME/ only; a program imports
 * userland/lib, userland/programs/, servers' protocol.ts files and the table of
 * servers init reads (servers/table.ts) only.
 */
function serverViolations(paths: string[], source = read): string[] {
  const out: string[] = [];
  for (const f of paths) {
    const server = /^servers\/[^/]+\//.exec(f)?.[0];
    for (const { to } of importEdges(f, source)) {
      const ok = to.startsWith("userland/lib/") ||
        (server ? to.startsWith(server) : to.startsWith("userland/programs/") ||
          SERVER_PROTOCOL.test(to));
      if (!ok) out.push(`${f} imports ${to}`);
    }
  }
  return out;
}

Deno.test("serverViolations finds a server importing another server's files", () => {
  const tree: Record<string, string> = {
    "servers/a/mod.ts":
      `import { p } from "./protocol.ts";\nimport { q } from "../b/protocol.ts";\n` +
      `import { m } from "../../userland/lib/mod.ts";\n`,
    "servers/a/protocol.ts": `export { RpcClient } from "../../userland/lib/mod.ts";\n`,
    "servers/b/mod.ts": `import { x } from "../a/mod.ts";\n`,
    "servers/b/protocol.ts": `export const B = 1;\n`,
    "userland/programs/c.ts": `import { p } from "../../servers/a/protocol.ts";\n` +
      `import { s } from "../../servers/a/mod.ts";\nimport { h } from "./helper.ts";\n`,
  };
  assert.deepEqual(serverViolations(Object.keys(tree), (p) => tree[p]), [
    "servers/a/mod.ts imports servers/b/protocol.ts",
    "servers/b/mod.ts imports servers/a/mod.ts",
    "userland/programs/c.ts imports servers/a/mod.ts",
  ]);
});

Deno.test("programs and servers import only userland/lib and talk without messages", () => {
  for (const dir of ["userland/programs", "servers"]) {
    assert.deepEqual(serverViolations([...files(dir)]), []);
    for (const f of files(dir)) {
      assert.ok(
        !/\bpostMessage\b|\bonmessage\b|MessageChannel|BroadcastChannel/.test(read(f)),
        `${f} uses message passing`,
      );
    }
  }
});

/** Each import of a file: the resolved project path, and whether it is `import type` only. */
function importEdges(path: string, source = read): { to: string; typeOnly: boolean }[] {
  const out: { to: string; typeOnly: boolean }[] = [];
  const re = /^\s*(import|export)(\s+type)?\b[^"';]*?from\s+["']([^"']+)["']/gm;
  for (const m of source(path).matchAll(re)) {
    const spec = m[3];
    if (!spec.startsWith(".")) continue;
    const to = new URL(spec, new URL(path, ROOT)).pathname.slice(ROOT.pathname.length);
    out.push({ to, typeOnly: m[2] !== undefined });
  }
  return out;
}

const folderOf = (path: string) => path.slice(0, path.lastIndexOf("/"));

/**
 * The import cycles among `paths`, each as the list of files around it. An
 * `import type` between two files of one folder (a segment and its bindings naming
 * each other) is no edge; every other import is, types included.
 */
function importCycles(paths: string[], source = read): string[][] {
  const edges = new Map<string, string[]>();
  for (const f of paths) {
    edges.set(
      f,
      importEdges(f, source)
        .filter((e) => !(e.typeOnly && folderOf(e.to) === folderOf(f)))
        .map((e) => e.to)
        .filter((to) => paths.includes(to)),
    );
  }
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const to of edges.get(f) ?? []) {
      if (state.get(to) === "open") cycles.push([...stack.slice(stack.indexOf(to)), to]);
      else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of paths) if (!state.has(f)) visit(f);
  return cycles;
}

Deno.test("importCycles finds a cycle through a type import across folders, not within one", () => {
  const tree: Record<string, string> = {
    "t/a/x.ts": `import type { Y } from "./y.ts";\nexport type X = Y;\n`,
    "t/a/y.ts": `import type { X } from "./x.ts";\nexport type Y = X;\n`,
    "t/a/p.ts": `import { Q } from "../b/q.ts";\nexport const P = Q;\n`,
    "t/b/q.ts": `import type { P } from "../a/p.ts";\nexport const Q = 1;\n`,
  };
  const cycles = importCycles(Object.keys(tree).sort(), (path) => tree[path]);
  assert.deepEqual(cycles, [["t/a/p.ts", "t/b/q.ts", "t/a/p.ts"]]);
});

Deno.test("kernel/ has no import cycle", () => {
  const cycles = importCycles([...files("kernel")]);
  assert.deepEqual(cycles.map((c) => c.join(" -> ")), []);
});

/**
 * Clock, timer and random sources the kernel core must not call: time and entropy
 * come in through the host interface (kernel/host_interface.ts), so a test can run
 * the kernel on a controlled clock.
 */
const HOST_ONLY = [
  /(?<![.\w#$])(?:setTimeout|setInterval|clearTimeout|clearInterval|setImmediate|queueMicrotask)\s*\(/,
  /\bperformance\s*\.\s*now\b/,
  /\bDate\s*\.\s*now\b|\bnew\s+Date\b/,
  /\bMath\s*\.\s*random\b/,
  /\bcrypto\s*\.\s*(?:getRandomValues|randomUUID)\b/,
  /\bglobalThis\s*\.\s*(?:setTimeout|setInterval|setImmediate|performance|crypto)\b/,
  /["']node:timers["']/,
];

Deno.test("the kernel core calls no clock, timer or random source but the host interface's", () => {
  for (const f of files("kernel")) {
    // The host layer implements the interface, which only declares it.
    if (f.startsWith("kernel/host/") || f === "kernel/host_interface.ts") continue;
    const code = blankComments(read(f));
    for (const r of HOST_ONLY) assert.ok(!r.test(code), `${f} calls ${r} outside kernel/host/`);
  }
});

/**
 * ABI tables the runtime and the kernel read, declared once in kernel/abi/: a table
 * keyed by the well-known export ids, an InfoKind name table, or a trap's second
 * result compared with a bare number instead of its ABI name (ConsoleRead).
 */
const ABI_COPIES: [RegExp, string][] = [
  [/\[\s*WellKnown\.\w+\s*\]\s*:/, "a table keyed by well-known export ids (WELL_KNOWN_EXPORTS)"],
  [/\{\s*ps\s*:[^}]*\bsegs\s*:/, "a table of info kinds (INFO_KIND_NAMES)"],
  [/\bresult2\s*[!=]==?\s*-?\d/, "a trap's second result as a bare number (ConsoleRead)"],
];

Deno.test("the ABI's tables and result codes are declared once, in kernel/abi/", () => {
  for (const dir of ["kernel", "userland", "servers"]) {
    for (const f of files(dir)) {
      if (f.startsWith("kernel/abi/")) continue;
      const code = blankComments(read(f));
      for (const [re, what] of ABI_COPIES) assert.ok(!re.test(code), `${f} has ${what}`);
    }
  }
});

Deno.test("a private module (its name starts with _) is imported only from its own folder", () => {
  for (
    const f of [...files("kernel"), ...files("servers"), ...files("userland"), ...files("tests")]
  ) {
    const dir = f.slice(0, f.lastIndexOf("/"));
    for (const [, spec] of blankComments(read(f)).matchAll(/from\s+"([^"]+)"/g)) {
      if (!spec.startsWith(".")) continue;
      const target = new URL(spec, new URL(f, "file:///")).pathname.slice(1);
      if (!isPrivate(target)) continue;
      const targetDir = target.slice(0, target.lastIndexOf("/"));
      assert.equal(targetDir, dir, `${f} imports ${target}, private to ${targetDir}/`);
    }
  }
});
