/**
 * The real CLI, `deno task boot`, run as a subprocess: --run, errors, the shell on
 * stdin, Ctrl-C (the byte \x03 on stdin, as a raw terminal sends it), and --trace.
 *
 * Needs permission to run deno: the test task must grant `--allow-run=deno` (or the
 * path of Deno.execPath()).
 */

import assert from "node:assert/strict";
import { withDeadline } from "./helpers.ts";
import { denoCommand, runTask, type TaskRun } from "./task_runner.ts";

const ROOT = new URL("../", import.meta.url);

/** Runs `deno task boot ARGS` with `input` on stdin; rejects after `ms`. */
function boot(args: string[], input = "", ms = 20_000): Promise<TaskRun> {
  return runTask("boot", args, input, ms);
}

Deno.test("boot --run hello prints its greeting and exits 0", async () => {
  const r = await boot(["--run", "userland/programs/hello.ts"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Hello, world! \(pid \d+, memory says 42\)$/m);
});

Deno.test("boot --run passes the program's arguments", async () => {
  const r = await boot(["--run", "hello", "emulator", "tests"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Hello, emulator tests!/);
});

Deno.test("boot --run of a missing program exits non-zero naming it", async () => {
  const r = await boot(["--run", "no_such_program"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /cannot start no_such_program: .*ENOENT/);
});

Deno.test("boot with an unknown flag exits 2 with usage", async () => {
  const r = await boot(["--bogus"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--bogus/);
  assert.match(r.stderr, /^usage: deno task boot /m);
});

Deno.test("boot --run with no program exits 2 with usage", async () => {
  const r = await boot(["--run"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--run needs a program/);
  assert.match(r.stderr, /^usage: deno task boot /m);
});

Deno.test("boot --memory-mib sets the node's page frames: free shows them, ps the resident pages", async () => {
  const r = await boot(
    ["--nodes", "1", "--memory-mib", "8"],
    ["free", "ps", "exit", ""].join("\n"),
  );
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /FRAMES\s+USED\s+FREE\s+SIZE\s+EVICTIONS/);
  const m = /^2048\s+(\d+)\s+(\d+)\s+8 MiB\s+0$/m.exec(out);
  assert.ok(m, out);
  assert.equal(Number(m[1]) + Number(m[2]), 2048);
  assert.ok(Number(m[1]) > 0, "init and the shell hold frames");
  assert.match(out, /PID\s+RESIDENT\s+PAGEFAULTS\s+EVICTED\s+COMMAND/);
  assert.match(out, /^1\s+\d+\s+\d+\s+0\s+userland\/programs\/init\.ts$/m);
  const bad = await boot(["--memory-mib", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--memory-mib must be a whole number of MiB ≥ 1, not "0"/);
});

/** The files in disks/ (where the boot task may write), or none if it is not there. */
function diskFiles(): string[] {
  try {
    return [...Deno.readDirSync(new URL("../disks/", import.meta.url))].map((e) => e.name);
  } catch {
    return [];
  }
}

Deno.test("boot --memory-mib 8 --swap --run: a program that needs 24 MiB runs to completion through the swap pager", async () => {
  const before = new Set(diskFiles()); // disks/ need not exist on a clean checkout
  const r = await boot(
    ["--nodes", "1", "--memory-mib", "8", "--swap", "--run", "userland/programs/memhog.ts", "24"],
    "",
    60_000,
  );
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const m = /memhog: 24 MiB, 2 passes, checksum (\w+); 2048 frames \(8 MiB\), (\d+) evictions/.exec(
    r.stdout,
  );
  assert.ok(m, r.stdout);
  assert.equal(m[1], "2df6a000"); // as on a node with frames enough (tests/swap_test.ts)
  assert.ok(Number(m[2]) >= 3 * 4096, `only ${m[2]} evictions`);
  // The temporary swap file is gone again.
  assert.deepEqual(diskFiles().filter((n) => !before.has(n) && n.startsWith("swap-")), []);
  const bad = await boot(["--swap-scope", "some"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--swap-scope must be all or opt-in, not "some"/);
  const path = await boot(["--files-path", "nfs"]);
  assert.equal(path.code, 2);
  assert.match(path.stderr, /--files-path must be dx or hy, not "nfs"/);
});

Deno.test("boot shell driven by stdin prints help, tables and errors, and exits 0", async () => {
  const r = await boot(
    [],
    ["help", "ps", "run hello", "segs", "stats", "kill 999", "exit", ""].join("\n"),
  );
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /emulator shell: type "help" for commands/);
  for (const cmd of ["help", "ps", "run PROGRAM", "kill \\[-SIG\\] PID", "segs", "stats", "exit"]) {
    assert.match(out, new RegExp(`^  ${cmd}`, "m"), `help lists ${cmd}`);
  }
  assert.match(
    out,
    /PID\s+PPID\s+STATE\s+TRAPS\s+PAGEFAULTS\s+RESIDENT\s+EVICTED\s+SIGDROP\s+COMMAND/,
  );
  assert.match(out, /^1\s+0\s+running\s.*userland\/programs\/init\.ts$/m);
  assert.match(out, /^2\s+1\s+running\s.*servers\/names\/mod\.ts$/m);
  assert.match(out, /^3\s+1\s+running\s.*servers\/exec\/mod\.ts$/m);
  assert.match(out, /^4\s+1\s+running\s.*userland\/programs\/shell\.ts$/m);
  assert.match(out, /Hello, world! \(pid \d+, memory says 42\)/);
  assert.match(out, /ID\s+SIZE\s+MODE\s+RESIDENT\s+HOLDERS\s+BINDINGS/);
  assert.match(out, /^traps\s+\d+$/m);
  assert.match(out, /^spawned\s+5$/m, "init, the name clerk, the exec server, shell, hello");
  assert.match(out, /^processes\s+4$/m, "hello was reaped");
  assert.match(out, /\$ kill: no process 999 \(ESRCH\)$/m);
  assert.doesNotMatch(r.stderr, /bug|panic/i);
});

Deno.test("boot shell at end of input exits 0", async () => {
  const r = await boot([], "help\n");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /commands:/);
});

Deno.test("boot --trace traps,signals,faults --run pingpong 2 prints a trace line of each kind", async () => {
  const r = await boot(["--trace", "traps,signals,faults", "--run", "pingpong", "2"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /parent \d+: 2 pongs from pid \d+/);
  assert.match(r.stderr, /^\[trace node0 traps\] pid \d+ signal\(/m);
  assert.match(r.stderr, /^\[trace node0 signals\] pid \d+ <- 0x10000040 handler \d+$/m);
  assert.match(r.stderr, /^\[trace node0 signals\] pid \d+ <- 0x20000000 handler \d+$/m);
  assert.match(r.stderr, /^\[trace node0 faults\] pid \d+ page fault at 0x/m);
});

Deno.test("boot --trace with an unknown kind exits 2 naming it", async () => {
  const r = await boot(["--trace", "traps,bogus", "--run", "hello"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bogus/);
});

Deno.test("boot --run with 6000 bytes of arguments exits 2: arguments too long", async () => {
  const r = await boot(["--run", "hello", "a".repeat(6000)]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /^boot: --run: arguments too long: .* 6\d{3} bytes .*, at most 3840$/m);
  assert.match(r.stderr, /^usage: deno task boot /m);
  assert.doesNotMatch(r.stdout + r.stderr, /crashed|RangeError/);
});

Deno.test("boot --run: Ctrl-C on stdin interrupts the program (SIGINT), status 130", async () => {
  const r = await boot(["--run", "tests/programs/sh_loop.ts"], "\x03");
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stdout, /init: tests\/programs\/sh_loop\.ts: killed by SIGINT from pid 1/);
  assert.doesNotMatch(r.stderr, /second Ctrl-C/);
});

Deno.test("boot shell: a second Ctrl-C within a second ends the emulator, saying so", async () => {
  const r = await boot([], "\x03\x03");
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.match(r.stderr, /boot: a second Ctrl-C within a second: ending the emulator/);
});

Deno.test("boot shell: run README.md says it is not a program, with no stack trace", async () => {
  const r = await boot([], "run README.md\nexit\n");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\$ run: README\.md is not a program: .*\(ENOEXEC\)$/m);
  assert.doesNotMatch(r.stdout + r.stderr, /Uncaught|\n\s+at /);
});

Deno.test("boot --run: a SIGINT to the host process is a Ctrl-C: SIGINT to the program, not the end of the emulator", async () => {
  // The boot task's command line, run directly so the signal reaches the host itself.
  const task = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks.boot;
  const args = task.split(/\s+/).slice(2); // after "deno run"
  const child = new Deno.Command(await denoCommand(), {
    args: ["run", ...args, "--run", "tests/programs/sh_loop.ts"],
    cwd: ROOT,
    stdin: "piped", // kept open: no end of input
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("looping pid")) {
      const r = await withDeadline(reader.read(), 20_000, "the program to start");
      if (r.done) throw new Error(`boot ended early:\n${out}`);
      out += r.value;
    }
    child.kill("SIGINT");
    for (;;) {
      const r = await withDeadline(reader.read(), 20_000, "boot to end");
      if (r.done) break;
      out += r.value;
    }
    const status = await child.status;
    assert.equal(status.code, 130, out);
    assert.match(out, /init: tests\/programs\/sh_loop\.ts: killed by SIGINT from pid 1/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already ended
    }
    await child.status;
    await child.stderr.cancel().catch(() => {});
  }
});

Deno.test("boot --run of a program that throws at load: status 134, the reason on the console, nothing printed by Deno", async () => {
  const r = await boot(["--run", "tests/programs/rob_crash_load.ts"]);
  assert.equal(r.code, 134, r.stderr);
  assert.match(r.stdout + r.stderr, /crashed at load: Error: boom:x/);
  // The runtime caught it: Deno's own report of a worker's uncaught error is absent.
  assert.doesNotMatch(r.stderr, /Uncaught \(in worker/);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
});
