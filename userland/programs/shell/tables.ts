/** The shell's reports on the kernel's tables: ps, free, segs, stats, nodes, names. */

import { info, println } from "../../lib/mod.ts";

/** Formats rows as a left-aligned table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  return cells.map((r) => r.map((v, c) => v.padEnd(widths[c])).join("  ").trimEnd()).join("\n");
}

export const hex = (v: number) => "0x" + (v >>> 0).toString(16).padStart(8, "0");

export function ps(): void {
  const rows = info("ps").map((p: any) => [
    p.pid,
    p.ppid,
    p.state,
    p.traps,
    p.pagefaults,
    p.resident,
    p.evictions,
    p.signalsDropped,
    [p.module, ...p.args].join(" "),
  ]);
  println(table(
    ["PID", "PPID", "STATE", "TRAPS", "PAGEFAULTS", "RESIDENT", "EVICTED", "SIGDROP", "COMMAND"],
    rows,
  ));
}

/** The node's page frames, then each process's resident pages, faults and evictions. */
export function free(): void {
  const s = info("stats");
  const mib = (frames: number) => `${(frames * 4 / 1024).toFixed(frames * 4 % 1024 ? 2 : 0)} MiB`;
  println(table(["FRAMES", "USED", "FREE", "SIZE", "EVICTIONS"], [[
    s.pageFrames,
    s.pageFramesUsed,
    s.pageFramesFree,
    mib(s.pageFrames),
    s.evictions,
  ]]));
  const rows = info("ps").filter((p: any) => p.state === "running").map((p: any) => [
    p.pid,
    p.resident,
    p.pagefaults,
    p.evictions,
    [p.module, ...p.args].join(" "),
  ]);
  println(table(["PID", "RESIDENT", "PAGEFAULTS", "EVICTED", "COMMAND"], rows));
}

export function segs(): void {
  const rows = info("segs").map((s: any) => [
    s.id,
    s.size,
    s.mode === 1 ? "MESSAGE" : "NORMAL",
    s.resident,
    s.holders.join(","),
    s.bindings.map((b: any) => `${b.pid}@${hex(b.vaddr)}`).join(" ") || "-",
  ]);
  println(table(["ID", "SIZE", "MODE", "RESIDENT", "HOLDERS", "BINDINGS"], rows));
}

export function stats(): void {
  const s = info("stats");
  println(Object.entries(s).map(([k, v]) => `${k.padEnd(16)} ${v}`).join("\n"));
}

export function nodes(): void {
  const rows = info("nodes").map((n: any) => [
    n.node,
    n.self ? "self" : n.up ? "up" : "down",
    n.incarnation ? (n.incarnation >>> 0).toString(16) : "?",
    n.self ? "-" : n.incarnation ? `${n.heardMsAgo} ms ago` : "not yet",
  ]);
  println(table(["NODE", "STATE", "INCARNATION", "HEARD"], rows));
}

export function names(): void {
  const exports = info("exports").filter((e: any) => !e.wellKnown).map((e: any) => [
    e.id,
    e.name,
    e.size,
    e.owner,
    e.generation,
    e.inhibited ? "inhibited" : "-",
  ]);
  println(table(["EXPORT", "NAME", "SIZE", "OWNER", "GENERATION", "WRITES"], exports));
  const descs = info("descriptors").map((d: any) => [d.desc, d.name, d.node, d.size, d.state]);
  if (descs.length) println(table(["DESC", "NAME", "NODE", "SIZE", "STATE"], descs));
}
