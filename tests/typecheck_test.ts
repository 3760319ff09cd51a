/**
 * The project type-checks. `deno task test` runs with `--no-check`: type-checking at
 * test time would check each process's generated entry stub (a data: URL per
 * program) as the worker loads it, and print a "Check data:..." line into the
 * results for each. The suite checks every source once here instead, as
 * `deno task check` does, so a type error still fails the tests.
 */

import assert from "node:assert/strict";
import { denoCheck } from "./source_helpers.ts";

Deno.test("kernel, servers, userland and tests type-check (deno check)", async () => {
  const r = await denoCheck(["kernel", "servers", "userland", "tests"]);
  assert.ok(r.ok, `deno check failed:\n${r.output}`);
});
