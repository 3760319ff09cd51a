/**
 * Prints for the console's atomicity test: `long N` prints N lines of 10,000
 * characters ("LONG" then x's), each with one println (several traps);
 * `short N` prints N short lines as fast as it can; `more` tries print's `more`
 * argument with a bad value and reports the error.
 */
import { println, Sys, trap } from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

export default function main(args: string[]): number {
  const n = Number(args[1] ?? 10);
  if (args[0] === "long") {
    for (let i = 0; i < n; i++) println("LONG" + "x".repeat(9_996));
  } else if (args[0] === "short") {
    for (let i = 0; i < n; i++) println(`short ${i}`);
  } else {
    report({ more2: attempt(() => trap(Sys.print, 1, 2)) });
  }
  return 0;
}
