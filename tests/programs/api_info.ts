/**
 * The field names of every kind of `info`: {kind, keys} per kind, the union of
 * its rows' keys. Exports a segment and imports it first, so that "exports" and
 * "descriptors" have a row to show.
 */

import {
  CreateSegment,
  exportSegment,
  importSegment,
  info,
  INFO_KIND_NAMES,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

export default function main(): number {
  exportSegment(CreateSegment(4096), "api.info");
  importSegment("api.info");
  for (const kind of Object.keys(INFO_KIND_NAMES) as (keyof typeof INFO_KIND_NAMES)[]) {
    const answer = info(kind);
    const rows: Record<string, unknown>[] = Array.isArray(answer) ? answer : [answer];
    const keys = new Set<string>();
    for (const row of rows) for (const k of Object.keys(row)) keys.add(k);
    report({ kind, keys: [...keys].sort() });
  }
  return 0;
}
