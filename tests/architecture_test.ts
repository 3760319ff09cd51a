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
