/**
 * hello: the smallest program. Prints a greeting through the kernel's console and
 * touches a page of fresh anonymous memory (a zero-fill fault).
 */

import { allocate, getpid, load32, println, store32 } from "../lib/mod.ts";

export default function main(args: string[]): number {
  const page = allocate(4096);
  store32(page, 0x2a);
  const who = args.length ? args.join(" ") : "world";
  println(`Hello, ${who}! (pid ${getpid()}, memory says ${load32(page)})`);
  return 0;
}
