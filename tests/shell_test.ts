/**
 * The shell driven through its input stream, as the terminal drives it: a
 * two-node cluster in this process booted as `deno task boot` boots it (init on
 * both nodes, the shell on node 0), with a console whose input the test types
 * line by line and key by key (Ctrl-C is the piece "\x03", as the terminal's line
 * discipline hands it over). Covers Ctrl-C to the foreground job, job control,
 * `$?`, quoting, Ctrl-L, and errors said once and plainly.
 */

import assert from "node:assert/strict";
import { Cluster } from "../kernel/cluster.ts";
import { MemoryConsole } from "../kernel/host/console.ts";
import { WorkerHost } from "../kernel/host/worker_host.ts";
import { BLOCK_ONLY, program, withDeadline } from "./helpers.ts";

const INIT = "userland/programs/init.ts";
const LOOP = "tests/programs/sh_loop.ts";
const CTRL_C = "\x03", CTRL_L = "\x0c", CTRL_Z = "\x1a";

class Shell {
  readonly console = new MemoryConsole([], false);
  readonly cluster = new Cluster(new WorkerHost(), this.console, { nodes: 2, config: BLOCK_ONLY });
  /** Where the output read so far ends: `next` looks after it. */
  #seen = 0;
  #marks = 0;

  constructor() {
    this.cluster.nodes[1].spawn(INIT, ["--serve"]);
    this.cluster.nodes[0].spawn(INIT, []);
  }

  get out(): string {
    return this.console.out;
  }

  /** Types a line (or a key). */
  type(text: string): void {
    this.console.feed(text);
  }

  /** Waits for output matching `re` after what `next` saw last; returns the match. */
  async next(re: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    const deadline = performance.now() + ms;
    for (;;) {
      const m = this.out.slice(this.#seen).match(re);
      if (m) {
        this.#seen += m.index! + m[0].length;
        return m;
      }
      if (performance.now() > deadline) {
        throw new Error(`timed out waiting for ${re}\n--- console ---\n${this.out}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.console.onWrite = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Types `line` and waits for the prompt after its output; returns that output. */
  async run(line: string): Promise<string> {
    const from = this.#seen;
    this.type(line);
    await this.next(/\$ $/m);
    return this.out.slice(from, this.#seen);
  }

  /** Waits until the shell has read everything typed so far (a prompt printed earlier is stale). */
  async settle(): Promise<void> {
    const mark = `settled-${++this.#marks}`;
    this.type(`echo ${mark}`);
    await this.next(new RegExp(`${mark}\n\\$ `));
  }

  close(): void {
    this.cluster.halt();
  }
}

async function withShell(fn: (sh: Shell) => Promise<void>): Promise<void> {
  const sh = new Shell();
  try {
    await sh.next(/emulator shell.*\n\$ /);
    await fn(sh);
  } finally {
    sh.close();
    await new Promise((r) => setTimeout(r, 0));
  }
}

Deno.test("Ctrl-C ends a looping foreground program; the shell prompts again, node 1 alive", async () => {
  await withShell(async (sh) => {
    sh.type(`run ${LOOP}`);
    const [, pid] = await sh.next(/looping pid (\d+)/);
    sh.type(CTRL_C);
    await sh.next(new RegExp(`\\[1\\] killed by SIGINT  ${LOOP}\n\\$ $`));
    const k0 = sh.cluster.nodes[0];
    assert.equal(k0.procs.get(Number(pid)), undefined, "the looping program is gone (reaped)");
    assert.match(await sh.run("echo $?"), /^130$/m, "128 + SIGINT");
    // Every node is still there: its init and servers run, and it starts programs.
    assert.match(await sh.run("nodes"), /^1\s+up\s/m);
    assert.ok([...sh.cluster.nodes[1].procs.values()].some((p) => p.pid === 1));
    sh.type("on 1 hello");
    await sh.next(/\[node 1 pid \d+\] Hello, world!/);
    assert.doesNotMatch(sh.out, /\[node 0/, "the shell's own output is not labelled");
  });
});

Deno.test("Ctrl-C at the prompt drops the line; Ctrl-L clears the screen", async () => {
  await withShell(async (sh) => {
    const out = await sh.run(CTRL_C);
    assert.equal(out, "\n$ ");
    assert.equal(await sh.run(CTRL_L), "\x1b[H\x1b[2J$ ");
    assert.match(await sh.run("echo still here"), /^still here$/m);
  });
});

Deno.test("jobs, fg, Ctrl-Z and kill %N control jobs; every finished job's status is shown", async () => {
  await withShell(async (sh) => {
    assert.match(await sh.run(`run ${LOOP} &`), /^\[1\] pid \d+ {2}tests\/programs\/sh_loop\.ts$/m);
    await sh.next(/looping pid/);
    sh.type(`run ${program("exit_with")} 3 &`);
    await sh.next(/\[2\] exited 3 {2}.*exit_with\.ts 3\n\$ /);
    assert.match(
      await sh.run("jobs"),
      /JOB\s+PID\s+STATE\s+COMMAND\n\[1\]\s+\d+\s+running\s+tests/,
    );
    // A foreground job left in the background with Ctrl-Z, then brought back.
    sh.type(`run ${LOOP} "two words"`);
    await sh.next(/looping pid \d+ with \["two words"\]/);
    sh.type(CTRL_Z);
    await sh.next(/\[2\] pid \d+ {2}.*"two words" & {2}\(left running in the background\)\n\$ /);
    assert.match(await sh.run("jobs"), /^\[2\]\s+\d+\s+running\s+.*"two words"$/m);
    assert.match(await sh.run("bg 2"), /\[2\] .*running: jobs are never stopped/);
    sh.type("fg");
    await sh.next(/"two words"\n/);
    sh.type(CTRL_C);
    await sh.next(/\[2\] killed by SIGINT {2}.*\n\$ /);
    assert.match(await sh.run("echo $?"), /^130$/m);
    sh.type("kill %1"); // reported when SIGCHLD interrupts the prompt's read
    await sh.next(/\n\[1\] killed by SIGTERM {2}tests\/programs\/sh_loop\.ts\n\$ /);
    assert.equal(await sh.run("jobs"), "$ ", "no jobs left");
    assert.match(await sh.run("fg"), /^fg: no jobs$/m);
    assert.match(await sh.run("fg 9"), /^fg: no job 9/m);
    assert.match(await sh.run("echo $?"), /^1$/m, "a failed command's status");
    assert.match(await sh.run("run hello"), /Hello, world![^]*\[1\] exited 0 {2}hello\n/);
    assert.match(await sh.run("echo $?"), /^0$/m);
    assert.match(await sh.run(`run ${program("exit_with")} 7`), /exited 7/);
    assert.match(await sh.run("echo $?"), /^7$/m);
  });
});

Deno.test("lines typed while a job runs wait for the next prompt; Ctrl-C still gets through", async () => {
  await withShell(async (sh) => {
    sh.type(`run ${LOOP}`);
    await sh.next(/looping pid/);
    sh.type("echo typed ahead");
    sh.type(CTRL_C);
    await sh.next(/killed by SIGINT[^]*typed ahead\n\$ $/);
    assert.ok(sh.out.indexOf("killed by SIGINT") < sh.out.indexOf("typed ahead\n"));
  });
});

Deno.test("words are split as sh splits them: quotes, backslashes, $?", async () => {
  await withShell(async (sh) => {
    sh.type(`run ${LOOP} "a b" 'c  d' e\\ f "" &`);
    await sh.next(/looping pid \d+ with \["a b","c {2}d","e f",""\]/);
    assert.match(await sh.run(`echo "x $?" 'y $?' \\$?`), /^x 0 y \$\? \$\?$/m);
    assert.match(await sh.run(`echo "open`), /^sh: unterminated double quote$/m);
    assert.match(await sh.run("echo $?"), /^2$/m);
    assert.match(await sh.run("nosuch"), /^nosuch: unknown command \(try "help"\)$/m);
    assert.match(await sh.run("echo $?"), /^127$/m);
    assert.match(await sh.run("ps &"), /^ps: only run takes &$/m);
  });
});

Deno.test("errors are said once and plainly", async () => {
  await withShell(async (sh) => {
    const foo = await sh.run("kill -FOO 9");
    assert.match(foo, /^kill: unknown signal FOO \(HUP, INT, .*\)$/m);
    assert.equal(foo.match(/FOO/g)?.length, 1, "the signal is named once");
    assert.doesNotMatch(foo, /kill: kill:/);
    assert.match(await sh.run("kill 999"), /^kill: no process 999 \(ESRCH\)$/m);
    assert.match(await sh.run("on 7 hello"), /^on: there is no node 7 \(the nodes are 0, 1\)$/m);
    // The request is said first, the exec server's failure after it.
    sh.type("on 1 nosuchprog");
    await sh.next(/exec\.1: cannot start nosuchprog: no program "nosuchprog" \(ENOENT\)/);
    const asked = sh.out.indexOf("asking node 1 to start nosuchprog");
    assert.ok(asked >= 0 && asked < sh.out.indexOf("cannot start nosuchprog"), sh.out);
    await sh.settle(); // its prompt may come before or after the exec server's line
    const readme = await sh.run("run README.md");
    assert.match(
      readme,
      /^run: README\.md is not a program: a program is a \.ts or \.js module \(ENOEXEC\)$/m,
    );
    assert.doesNotMatch(sh.out + sh.console.err, /Uncaught|\n\s+at /, "no stack trace");
    assert.match(await sh.run("run"), /^run: which program\?$/m);
    // A program started on another node: its output is labelled where it lands.
    sh.type(`on 1 ${LOOP} x`);
    await sh.next(/\[node 1 pid (\d+)\] looping pid \1 with \["x"\]\n/);
  });
});

Deno.test("console_read: EINVAL for unknown flags, EINTR when SIGCHLD comes; spawn: ENOEXEC, E2BIG", async () => {
  // An open console with no input: only the child's SIGCHLD can end the read.
  const console = new MemoryConsole([], false);
  const cluster = new Cluster(new WorkerHost(), console, { nodes: 1, config: BLOCK_ONLY });
  try {
    const p = cluster.nodes[0].spawn(program("sh_console"), [program("exit_with")]);
    const status = await withDeadline(p.exited, 15_000, "sh_console to exit");
    assert.equal(status.status, 0, console.out);
    const line = console.out.split("\n").find((l) => l.startsWith("RESULT "));
    assert.deepEqual(JSON.parse(line!.slice(7)), {
      badFlags: "EINVAL",
      interrupted: "EINTR",
      handled: 1,
      child: 0,
      notProgram: "ENOEXEC",
      tooLong: "E2BIG",
    });
  } finally {
    cluster.halt();
  }
});

Deno.test("init --run sends the program SIGINT on Ctrl-C and ends with its status", async () => {
  const console = new MemoryConsole([], false);
  const cluster = new Cluster(new WorkerHost(), console, { nodes: 1, config: BLOCK_ONLY });
  try {
    const init = cluster.nodes[0].spawn(INIT, ["--run", LOOP]);
    const deadline = performance.now() + 15_000;
    while (!console.out.includes("looping pid")) {
      if (performance.now() > deadline) throw new Error(`no loop:\n${console.out}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    console.feed(CTRL_C);
    const status = await withDeadline(init.exited, 15_000, "init to exit");
    assert.equal(status.status, 130);
    assert.match(console.out, /init: tests\/programs\/sh_loop\.ts: killed by SIGINT from pid 1/);
  } finally {
    cluster.halt();
  }
});
