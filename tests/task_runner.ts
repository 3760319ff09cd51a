// Runs the project's deno tasks as subprocesses, as a user would (boot_test.ts,
// files_boot_test.ts). Needs permission to run deno: the test task grants --allow-run.

import { withDeadline } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url);

/**
 * `deno run`'s arguments for a host script run as the tasks run theirs (no module
 * fetched, programs confined by the import map), before its permissions and path.
 */
export const DENO_RUN = [
  "run",
  "--no-remote",
  "--no-npm",
  "--no-lock",
  "--no-prompt",
  "--import-map=kernel/host/program_imports.json",
  "--unstable-worker-options",
] as const;

/** The deno to run: this one if allowed by path, else "deno" from PATH. */
export async function denoCommand(): Promise<string> {
  for (const command of [Deno.execPath(), "deno"]) {
    const st = await Deno.permissions.query({ name: "run", command });
    if (st.state === "granted") return command;
  }
  throw new Error("running a task needs --allow-run=deno in the test task");
}

export interface TaskRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno task NAME ARGS` with `input` on stdin; rejects (killing it) after `ms`. */
export async function runTask(
  name: string,
  args: string[],
  input = "",
  ms = 20_000,
): Promise<TaskRun> {
  const child = new Deno.Command(await denoCommand(), {
    args: ["task", "-q", name, ...args],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  try {
    const out = await withDeadline(child.output(), ms, `deno task ${name} ${args.join(" ")}`);
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    child.kill("SIGKILL");
    await child.status;
    throw e;
  }
}
