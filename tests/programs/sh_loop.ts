/** Loops until a signal ends it (the shell's Ctrl-C test): says so once it runs. */

import { getpid, println, SigWait } from "../../userland/lib/mod.ts";

export default function main(args: string[]): number {
  println(`looping pid ${getpid()}${args.length ? ` with ${JSON.stringify(args)}` : ""}`);
  for (;;) SigWait(50);
}
