// Bench program: the cost of the null trap (user -> kernel -> user).

import { nullTrap } from "../../../userland/lib/mod.ts";
import { measureAndReport } from "./bench_report.ts";

export default async function main(args: string[]): Promise<number> {
  await measureAndReport((k) => {
    for (let i = 0; i < k; i++) nullTrap();
  }, args[0] === "quick");
  return 0;
}
