/**
 * The layout's import rules, checked so nobody has to remember them:
 * - the kernel core never touches the host (no `Deno.` outside kernel/host/) and
 *   never imports userland;
 * - userland/lib reaches into kernel/ only for the ABI and the two pieces of emulated
 *   hardware it shares with the kernel (the page-table walk, the signal FIFO ring);
 * - programs and servers import only userland/lib (and each other's own files), and
 *   use no message passing.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

function* files(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(new URL(dir, ROOT))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* files(path);
    else if (e.name.endsWith(".ts")) yield path;
  }
}

function read(path: string): string {
  return Deno.readTextFileSync(new URL(path, ROOT));
}

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
    const code = read(f).replace(/^\s*(\*|\/\/).*$/gm, "");
    assert.ok(!/\bDeno\./.test(code), `${f} uses Deno.* outside kernel/host/`);
  }
});

Deno.test("userland/lib imports only the ABI and the shared emulated hardware", () => {
  for (const f of files("userland/lib")) {
    for (const i of imports(f)) {
      if (i.startsWith("userland/lib/")) continue;
      assert.ok(USERLAND_MAY_USE.some((r) => r.test(i)), `${f} imports ${i}`);
    }
  }
});

Deno.test("programs and servers import only userland/lib and talk without messages", () => {
  for (const dir of ["userland/programs", "servers"]) {
    for (const f of files(dir)) {
      for (const i of imports(f)) {
        const ok = i.startsWith("userland/lib/") || i.startsWith(dir + "/");
        assert.ok(ok, `${f} imports ${i}`);
      }
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
    const code = read(f).replace(/^\s*(\*|\/\/).*$/gm, "").replace(/\/\/.*$/gm, "");
    for (const r of HOST_ONLY) assert.ok(!r.test(code), `${f} calls ${r} outside kernel/host/`);
  }
});
