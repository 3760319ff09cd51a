/**
 * Servers from init's table (servers/table.ts): init starts each row's server on
 * the nodes it names, a server is ready when it has exported its name, and a client
 * waits for that name with one helper, waitForName (userland/lib/sys/names.ts).
 */

import assert from "node:assert/strict";
import { argsOf, PLAIN_NODE, readyName, reservedNames, serversOn } from "../servers/table.ts";
import { Fifo } from "../kernel/abi/layout.ts";
import { EXEC_REQUEST_BYTES } from "../userland/lib/sys/exec.ts";
import { HostDisk } from "../kernel/host/host_disk.ts";
import { withTempDir } from "./e2fsprogs.ts";
import { makeImage } from "./files_helpers.ts";
import { program, TestCluster, withDeadline } from "./helpers.ts";
import { until } from "./remote_helpers.ts";

const INIT = new URL("../userland/programs/init.ts", import.meta.url).href;

Deno.test("init starts every server of its table, and each is found by the name it exports", async () => {
  const c = new TestCluster(2);
  try {
    for (const k of c.cluster.nodes) k.spawn(INIT, ["--serve"]);
    // Started at once with init: the waits below begin before any server is ready.
    const st = await c.run(1, "names_wait", ["table", "2"]);
    assert.equal(st.status, 0, `${st.reason}\n${c.console.out}${c.console.err}`);
    const want = [0, 1].flatMap((n) => serversOn(n).map((r) => readyName(r, n)))
      .filter((n) => n !== null);
    assert.deepEqual(want, ["exec.0", "exec.1"]);
    const got = c.results().find((r) => r.table).table;
    assert.deepEqual(got.map((r: { name: string }) => r.name), want);
    // Each was found by importing it: the exec server's request segment, whole.
    for (const r of got) assert.ok(r.size >= EXEC_REQUEST_BYTES, `${r.name}: ${r.size} bytes`);
    for (const k of c.cluster.nodes) {
      const running = [...k.procs.values()].filter((p) => p.ppid === 1).map((p) => p.module);
      for (const row of serversOn(k.nodeId)) {
        assert.ok(running.some((m) => m.endsWith(row.module)), `${row.module} on node ${k.nodeId}`);
      }
    }
  } finally {
    c.close();
  }
});

Deno.test("waitForName waits for a name exported after it began, and gives ENOENT at its deadline", async () => {
  const c = new TestCluster(2);
  try {
    await c.startClerks();
    const waiter = c.spawn(1, "names_wait", ["late", "late", "0"]);
    await until(c, () => c.results().some((r) => r.waiting === "late"), "the waiter to start");
    // Its first lookup failed: it sleeps (SigWait) in waitForName's pause before asking again.
    await until(
      c,
      () => Atomics.load(waiter.fifo.words, Fifo.WAITING) === 1,
      "the waiter's pause after a failed lookup",
    );
    c.spawn(0, "rm_owner", ["late"]);
    const st = await withDeadline(waiter.exited, 15_000, "the waiter to exit");
    assert.equal(st.status, 0, `${st.reason}\n${c.console.out}${c.console.err}`);
    assert.equal(c.results().find((r) => r.found !== undefined).found, 8192);

    const missing = await c.run(1, "names_wait", ["missing", "nosuch", "30"]);
    assert.equal(missing.status, 0, missing.reason);
    assert.equal(c.results().find((r) => r.missing).missing, "ENOENT");
  } finally {
    c.close();
  }
});

Deno.test("with a file system every node runs a file clerk, HY-only with --files-path hy", () => {
  const files = { ...PLAIN_NODE, fileDisk: -1, fileServerNode: 0 };
  for (const [path, args] of [["dx", []], ["hy", ["hy"]]] as const) {
    for (const node of [0, 1, 2]) {
      const facts = { ...files, fileDisk: node === 0 ? 0 : -1, filesPath: path };
      const rows = serversOn(node, facts);
      const clerk = rows.find((r) => r.module === "servers/files/clerk.ts");
      assert.ok(clerk, `no clerk on node ${node}`);
      assert.deepEqual(argsOf(clerk, node, facts), args);
      assert.equal(readyName(clerk, node), `rpc.files.clerk.${node}`);
      assert.ok(reservedNames(clerk, node).includes("files.attr"));
      // The server only where the disk is, and before the clerk (init starts them in order).
      const server = rows.findIndex((r) => r.module === "servers/files/mod.ts");
      assert.equal(server >= 0, node === 0);
      if (server >= 0) assert.ok(server < rows.indexOf(clerk));
    }
  }
  assert.ok(!serversOn(0).some((r) => r.module.startsWith("servers/files/")));
});

Deno.test("with a file system, no program can export the file server's names on any node", async () => {
  await withTempDir(async (dir) => {
    makeImage(`${dir}/names.img`, 16);
    const disk = await HostDisk.open(`${dir}/names.img`);
    const c = new TestCluster(2, { fileServerNode: 0 });
    try {
      c.node(0).disks.add(disk, { files: true });
      for (const k of c.cluster.nodes) k.spawn(INIT, ["--serve"]);
      await until(
        c,
        () => [0, 1].every((n) => c.node(n).exports.byName(`rpc.files.clerk.${n}`) !== undefined),
        "the file clerks",
      );
      const names = ["rpc.files", "files.attr", "files.names", "files.data", "files.dirs"];
      // On node 1, where none of them is exported, a program (not started by init
      // as a server: no Cap.SERVICE) is refused each; on node 0 they are reserved too,
      // for while the server is restarted.
      const squat = c.node(1).spawn(program("names_squat"), [...names, "files.mine"], { caps: 0 });
      const st = await withDeadline(squat.exited, 15_000, "names_squat");
      assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
      assert.deepEqual(c.results().find((r) => r.squat).squat, {
        ...Object.fromEntries(names.map((n) => [n, "EPERM"])),
        "files.mine": "ok",
      });
      for (const n of names) assert.ok(c.node(0).exports.reservedForServices(n), n);
    } finally {
      c.close();
      await disk.close();
    }
  });
});
