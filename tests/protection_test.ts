/**
 * The protection boundary around system servers and transports (issue 11, holes 6
 * and 8). Each test runs the attack from a real sandboxed program and shows it fail,
 * with the node and the attacked servers still serving:
 *
 * - a `--run` program and an orphan (both children of init, the old rule's test)
 *   cannot kill the name clerk or the exec server, attach as the clerk, take the
 *   exec server's name, mint a capability, or flood a server with signals;
 * - the shell, acting for the user, may kill a server (init restarts it), a program
 *   it runs may not kill the shell, and a server in a crash loop is named as lost;
 * - an RPC connection's channels are exported to the server alone: a bystander on
 *   the server's node or the client's can import their names but not attach, READ
 *   or WRITE them, and the client's calls go on.
 */

import assert from "node:assert/strict";
import { Kernel } from "../kernel/kernel.ts";
import { MemoryConsole } from "../kernel/host/console.ts";
import { WorkerHost } from "../kernel/host/worker_host.ts";
import type { Process } from "../kernel/proc/process.ts";
import { Sig } from "../kernel/abi/layout.ts";
import { BLOCK_ONLY, program, TestCluster, withDeadline } from "./helpers.ts";
import { QUIET, until } from "./remote_helpers.ts";

const INIT = new URL("../userland/programs/init.ts", import.meta.url).href;

/** A node booted by init, with a console the test types into. */
class Booted {
  readonly console = new MemoryConsole([], false);
  readonly kernel = new Kernel(new WorkerHost(), this.console, BLOCK_ONLY);
  readonly init: Process;

  constructor(args: string[]) {
    this.init = this.kernel.spawn(INIT, args);
  }

  results(): any[] {
    // A line may follow the shell's prompt ("$ RESULT {...}").
    return this.console.out.split("\n").filter((l) => l.includes("RESULT "))
      .map((l) => JSON.parse(l.slice(l.indexOf("RESULT ") + 7)));
  }

  /** The running process of `module` (a suffix), if any. */
  running(module: string): Process | undefined {
    return [...this.kernel.procs.values()].find((p) =>
      p.state === "running" && p.module.endsWith(module)
    );
  }

  async until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
    const deadline = performance.now() + ms;
    while (!cond()) {
      if (performance.now() > deadline) {
        throw new Error(`timed out after ${ms} ms waiting for ${what}\n${this.console.out}`);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  async close(): Promise<void> {
    this.kernel.halt();
    await new Promise((r) => setTimeout(r, 0));
  }
}

const CLERK = "servers/names/mod.ts";
const EXEC = "servers/exec/mod.ts";

Deno.test("a --run program and an orphan cannot kill, replace or flood the system servers", async () => {
  const n = new Booted(["--run", program("prot_rogue"), "services"]);
  try {
    await n.until(() => n.kernel.clerk !== null, "init's clerk to attach");
    const clerk = n.kernel.clerk!;
    const exec = n.running(EXEC)!;
    const st = await withDeadline(n.init.exited, 60_000, "init (and its --run program) to end");
    assert.equal(st.status, 0, n.console.out);

    const orphan = n.results().find((r) => r.who === "orphan");
    assert.ok(orphan, n.console.out);
    assert.equal(orphan.ppid, 1, "init adopted the orphan");
    assert.equal(orphan.attach, "EPERM", "an orphan cannot attach as the clerk");
    assert.equal(orphan.killClerk, "EPERM");
    assert.equal(orphan.killExec, "EPERM");

    const [attack, after] = n.results().filter((r) => r.who === "rogue");
    assert.equal(attack.ppid, 1, "the --run program is init's child");
    assert.equal(attack.clerk, clerk.pid);
    assert.equal(attack.killClerk, "EPERM", JSON.stringify(attack));
    assert.equal(attack.termClerk, "EPERM");
    assert.equal(attack.attach, "EPERM", "no service capability: cannot be the clerk");
    assert.equal(attack.killExec, "EPERM");
    assert.equal(attack.squatExec, "EEXIST", "exec.0 is still the exec server's");
    assert.equal(attack.killInit, "EPERM");
    assert.equal(attack.spawnService, "EPERM", "only init grants capabilities");
    assert.equal(attack.spawnUser, "EPERM");
    assert.equal(attack.spawnReserve, "EPERM", "only init reserves names");
    assert.deepEqual(attack.hupClerk, { EPERM: 1000 });
    assert.deepEqual(attack.hupExec, { EPERM: 1000 });
    assert.deepEqual(attack.ownChild, { sent: "ok", status: 128 + Sig.SIGKILL }, "its own child");

    // Still serving: the same clerk and exec server, no signal of theirs dropped,
    // names exported and imported through the clerk, the exec server's name there.
    assert.deepEqual(after.alive.drops, after.alive.dropsBefore);
    assert.deepEqual(after.alive.drops, [0, 0]);
    assert.equal(after.alive.clerk, true);
    assert.equal(after.alive.exec, true);
    assert.equal(after.alive.imported, 4096);
    assert.equal(typeof after.alive.execName, "number");
    assert.equal(n.kernel.clerk, clerk, "the clerk is the one init started");
    assert.equal(clerk.state, "running");
    assert.equal(exec.state, "running");
    assert.doesNotMatch(n.console.out, /init: the name clerk ended|init: the exec server ended/);
  } finally {
    await n.close();
  }
});

Deno.test("while init restarts the exec server no program can take its name", async () => {
  const n = new Booted(["--run", program("prot_rogue"), "squat"]);
  try {
    await n.until(() => n.results().some((r) => r.who === "squat"), "the squatter");
    await n.until(() => n.kernel.exports.byName("exec.0") !== undefined, "exec.0");
    const first = n.running(EXEC)!;
    // The squatter ran from boot, before the exec server exported: init reserved it.
    assert.equal(n.kernel.exports.byName("exec.0")!.owner, first.pid, "exec.0 at boot");
    n.kernel.signalProcess(first, Sig.SIGKILL, 0); // it crashed, say
    let second: Process | undefined;
    await n.until(
      () =>
        (second = n.running(EXEC)) !== undefined && second !== first &&
        n.kernel.exports.byName("exec.0")?.owner === second.pid,
      "the new exec server to export exec.0",
    );
    const squatter = n.running("prot_rogue.ts")!;
    n.kernel.signalProcess(squatter, Sig.SIGHUP, 0);
    await withDeadline(n.init.exited, 15_000, "the squatter to end");
    const { tally } = n.results().find((r) => r.who === "squat" && r.tally);
    assert.equal(tally.ok, undefined, `a program took exec.0: ${JSON.stringify(tally)}`);
    assert.deepEqual(
      Object.keys(tally).filter((k) => k !== "EEXIST" && k !== "EPERM"),
      [],
      JSON.stringify(tally),
    );
    assert.match(n.console.out, /init: the exec server ended: killed by SIGKILL/);
  } finally {
    await n.close();
  }
});

Deno.test("the shell kills for the user (init restarts the server); its programs cannot kill it; a crash loop is named", async () => {
  const n = new Booted([]);
  try {
    await n.until(() => n.kernel.clerk !== null && n.running("shell.ts") !== undefined, "boot");
    const shell = n.running("shell.ts")!;
    assert.equal(shell.ppid, 1);

    // A program the shell runs attacks the shell, its parent: refused.
    n.console.feed(`run ${program("prot_rogue")} shell`);
    await n.until(() => n.results().some((r) => r.who === "shell-child"), "the shell's child");
    const child = n.results().find((r) => r.who === "shell-child");
    assert.deepEqual(child, { who: "shell-child", ppid: shell.pid, kill: "EPERM", hup: "EPERM" });
    assert.equal(shell.state, "running");

    // The user kills the clerk through the shell: init starts a new one, five times;
    // the fifth end within ten seconds is a crash loop, and init says the node lost it.
    const killed: number[] = [];
    for (let i = 0; i < 5; i++) {
      const clerk = await (async () => {
        let p: Process | undefined;
        await n.until(
          () => (p = n.running(CLERK)) !== undefined && !killed.includes(p.pid),
          `clerk ${i + 1}`,
        );
        return p!;
      })();
      killed.push(clerk.pid);
      n.console.feed(`kill -9 ${clerk.pid}`);
      await withDeadline(clerk.exited, 10_000, `clerk ${clerk.pid} to die`);
    }
    await n.until(() => /init: node 0 has lost the name clerk/.test(n.console.out), "init's word");
    assert.match(
      n.console.out,
      /init: node 0 has lost the name clerk: it ended 5 times within 10 s, and is not started again/,
    );
    assert.match(
      n.console.out,
      new RegExp(`init: the name clerk ended: killed by SIGKILL from pid ${shell.pid}`),
    );
    assert.equal(n.running(CLERK), undefined, "not started a sixth time");
    assert.equal(shell.state, "running", "the node runs on without its clerk");
    n.console.feed("exit");
    const st = await withDeadline(n.init.exited, 10_000, "init to end with the shell");
    assert.equal(st.status, 0);
  } finally {
    await n.close();
  }
});

for (const [label, clientNode] of [["across nodes", 1], ["on one node", 0]] as const) {
  Deno.test(`an RPC connection's channels are the server's alone (${label}): bystanders cannot attach, READ or WRITE them`, async () => {
    const c = new TestCluster(2, QUIET);
    try {
      await c.startClerks();
      c.spawn(0, "rpc_server", ["srv", "prot"]);
      await until(c, () => c.results().some((r) => r.who === "srv" && r.ready), "the server");
      const client = c.spawn(clientNode, "prot_rpc", ["client", "prot", "0"]);
      await until(c, () => c.results().some((r) => r.who === "client" && r.prefix), "connect");
      const { prefix } = c.results().find((r) => r.who === "client" && r.prefix);

      // A bystander on the server's node, and one on the client's (both when apart).
      for (const node of new Set([0, clientNode])) {
        c.spawn(node, "prot_rpc", ["snoop", prefix, String(clientNode)]);
      }
      const snoops = () => c.results().filter((r) => r.who === "snoop");
      await until(c, () => snoops().length === new Set([0, clientNode]).size, "the bystanders");
      for (const s of snoops()) {
        for (const ch of ["q", "r"]) {
          assert.deepEqual(
            s[ch],
            { imported: "ok", attach: "EPERM", read: "EPERM", write: "EPERM" },
            `node ${s.node}, channel ${ch}: ${JSON.stringify(s)}`,
          );
        }
      }
      // Nobody but the two ends binds the channels: the client's FIFO went to no one else.
      const k = c.node(clientNode);
      const binders = [...k.segments.values()].filter((seg) => seg.holders.has(client.pid))
        .flatMap((seg) => [...seg.holders.keys()]);
      const snoopPids = [...k.procs.values()].filter((p) => p.args[0] === "snoop").map((p) =>
        p.pid
      );
      assert.ok(snoopPids.every((pid) => !binders.includes(pid)), "no snoop holds a channel");

      // The connection serves on.
      c.node(clientNode).signalProcess(client, Sig.SIGHUP, 0);
      await until(
        c,
        () => c.results().some((r) => r.who === "client" && r.ok !== undefined),
        "calls",
      );
      const done = c.results().find((r) => r.who === "client" && r.ok !== undefined);
      assert.deepEqual(done, { who: "client", calls: 20, ok: 20 });
    } finally {
      c.close();
      await new Promise((r) => setTimeout(r, 0));
    }
  });
}

Deno.test("an endpoint connection's ends take WRITEs from each other alone", async () => {
  const c = new TestCluster(2, QUIET);
  try {
    await c.startClerks();
    c.spawn(0, "servers/echo/mod.ts", ["prot"]);
    await until(c, () => c.console.out.includes('echo: serving "prot"'), "the echo server");
    const client = c.spawn(1, "prot_rpc", ["epclient", "prot", "0"]);
    await until(c, () => c.results().some((r) => r.who === "epclient" && r.name), "connect");
    const { name } = c.results().find((r) => r.who === "epclient" && r.name);
    for (const node of [0, 1]) c.spawn(node, "prot_rpc", ["epsnoop", name, "1"]);
    const snoops = () => c.results().filter((r) => r.who === "epsnoop");
    await until(c, () => snoops().length === 2, "the bystanders");
    for (const s of snoops()) {
      for (const end of ["client", "server"]) {
        assert.equal(s[end].imported, "ok", JSON.stringify(s));
        assert.equal(s[end].write, "EPERM", `node ${s.node}, ${end}'s end: ${JSON.stringify(s)}`);
        assert.equal(s[end].read, "EPERM", "an end is exported for WRITEs only");
      }
    }
    c.node(1).signalProcess(client, Sig.SIGHUP, 0);
    await until(
      c,
      () => c.results().some((r) => r.who === "epclient" && r.ok !== undefined),
      "calls",
    );
    const done = c.results().find((r) => r.who === "epclient" && r.ok !== undefined);
    assert.deepEqual(done, { who: "epclient", calls: 20, ok: 20 });
  } finally {
    c.close();
    await new Promise((r) => setTimeout(r, 0));
  }
});

Deno.test("a distributed queue's counter segment takes WRITEs from its receiver alone", async () => {
  const c = new TestCluster(2, QUIET);
  try {
    await c.startClerks();
    c.spawn(0, "prot_rpc", ["dqrecv", "prot"]);
    await until(c, () => c.results().some((r) => r.who === "dqrecv" && r.ready), "the receiver");
    const sender = c.spawn(1, "prot_rpc", ["dqsend", "prot", "0"]);
    await until(c, () => c.results().some((r) => r.who === "dqsend" && r.tx), "the sender");
    const { tx } = c.results().find((r) => r.who === "dqsend" && r.tx);
    for (const node of [0, 1]) c.spawn(node, "prot_rpc", ["dqsnoop", tx, "1"]);
    const snoops = () => c.results().filter((r) => r.who === "dqsnoop");
    await until(c, () => snoops().length === 2, "the bystanders");
    for (const s of snoops()) {
      assert.equal(s.tx.imported, "ok", JSON.stringify(s));
      assert.equal(s.tx.write, "EPERM", `node ${s.node}: ${JSON.stringify(s)}`);
    }
    c.node(1).signalProcess(sender, Sig.SIGHUP, 0);
    await until(c, () => c.results().some((r) => r.who === "dqrecv" && r.ok !== undefined), "20");
    assert.equal(c.results().find((r) => r.who === "dqrecv" && r.ok !== undefined).ok, 20);
  } finally {
    c.close();
    await new Promise((r) => setTimeout(r, 0));
  }
});
