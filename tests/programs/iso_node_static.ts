/**
 * A program that imports Node's process module statically to abort the host
 * (`abort()` calls an op directly: no lockdown of the process object could stop
 * it). The host's import map resolves node:process to a module that refuses, so
 * this program never runs.
 */

import { abort } from "node:process";
import { println } from "../../userland/lib/mod.ts";

export default function main(): number {
  println("ISO-STATIC-RAN");
  abort();
  return 0;
}
