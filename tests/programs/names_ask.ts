/** Asks the name service for a name once and reports the outcome: {asked: code}. */
import { importSegment } from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

export default function main(args: string[]): number {
  report({ asked: attempt(() => importSegment(args[0])) });
  return 0;
}
