/** Exits with the status given as its first argument, or throws with "throw". */
import { println } from "../../userland/lib/mod.ts";

export default function main(args: string[]): number {
  if (args[0] === "throw") throw new Error("deliberate failure");
  if (args[0] === "reject") {
    Promise.reject(new Error("deliberate rejection"));
    return new Promise<number>(() => {}) as unknown as number;
  }
  println(`exiting with ${args[0]}`);
  return Number(args[0] ?? 0);
}
