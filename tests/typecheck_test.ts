/**
 * The project type-checks. `deno task test` runs with `--no-check`: type-checking at
 * test time would check each process's generated entry stub (a data: URL per
 * program) as the worker loads it, and print a "Check data:..." line into the
 * results for each. The suite checks every source once here instead, as
 * `deno task check` does, so a type error still fails the tests.
 */

import assert from "node:assert/strict";

Deno.test("kernel, servers, userland and tests type-check (deno check)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "check",
      "--quiet",
      "--no-remote",
      "--no-npm",
      "--no-lock",
      "kernel",
      "servers",
      "userland",
      "tests",
    ],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `deno check failed:\n${text}`);
});
