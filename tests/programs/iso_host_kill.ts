/**
 * The attacks of issue 11 hole 1 and 5 for real, for `deno task boot --run`: the
 * host's own SIGKILL, reading the host's stdin, writing its stdout around the
 * console, reading the host's command line, and fetching an npm package (which would also write deno.lock into the
 * project). Prints one line per attempt and exits 0.
 */

import { println } from "../../userland/lib/mod.ts";

async function attempt(what: string, fn: () => unknown): Promise<void> {
  try {
    const v = await fn();
    println(`${what}: allowed ${String(v)}`);
  } catch (e) {
    println(`${what}: denied (${e instanceof Error ? e.name : String(e)})`);
  }
}

export default async function main(): Promise<number> {
  await attempt("kill", () => Deno.kill(Deno.pid, "SIGKILL"));
  await attempt("stdin", async () => {
    const buf = new Uint8Array(64);
    const n = await Deno.stdin.read(buf);
    return JSON.stringify(new TextDecoder().decode(buf.subarray(0, n ?? 0)));
  });
  await attempt("stdout", () => Deno.stdout.writeSync(new TextEncoder().encode("ISO-BYPASS\n")));
  await attempt("npm", async () => await import(["npm:", "is-number@7.0.0"].join("")));
  println(`args: ${JSON.stringify(Deno.args)}`);
  println("still alive");
  return 0;
}
