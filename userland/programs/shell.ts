/**
 * The shell: reads commands from the console and runs them.
 *
 *   help                 this list
 *   ps                   processes
 *   run PROGRAM [ARGS]   start a program and wait for it (append & to not wait)
 *   kill [-SIG] PID      send a signal (default TERM; -9 or -KILL cannot be caught)
 *   segs                 segments
 *   stats                kernel counters
 *   nodes                the cluster's nodes as this node sees them
 *   export NAME [SIZE]   create a segment and export it by name
 *   import NAME [NODE]   import a name (looking on NODE if not known here)
 *   names                this node's exports and the shell's descriptors
 *   on NODE PROGRAM [ARGS]  start a program on another node (its exec server)
 *   exit                 leave the shell (and, from init, halt the node)
 */

import {
  bind,
  CreateSegment,
  exportSegment,
  importSegment,
  info,
  kill,
  print,
  println,
  readLine,
  Sig,
  spawn,
  startOn,
  SysError,
  wait,
} from "../lib/mod.ts";

const HELP = `commands:
  help                 this list
  ps                   processes
  run PROGRAM [ARGS]   start a program and wait for it (end with & to not wait)
  kill [-SIG] PID      send a signal (default TERM; -9 or -KILL cannot be caught)
  segs                 segments
  stats                kernel counters
  nodes                the cluster's nodes as this node sees them
  export NAME [SIZE]   create a segment (default 4096 bytes) and export it by name
  import NAME [NODE]   import a name (looking on NODE if it is not known here)
  names                this node's exports and the shell's descriptors
  on NODE PROGRAM [ARGS]  start a program on another node
  exit                 leave the shell`;

/** Formats rows as a left-aligned table. */
function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  return cells.map((r) => r.map((v, c) => v.padEnd(widths[c])).join("  ").trimEnd()).join("\n");
}

const hex = (v: number) => "0x" + (v >>> 0).toString(16).padStart(8, "0");

function ps(): void {
  const rows = info("ps").map((p: any) => [
    p.pid,
    p.ppid,
    p.state,
    p.traps,
    p.pagefaults,
    p.signalsDropped,
    [p.module, ...p.args].join(" "),
  ]);
  println(table(["PID", "PPID", "STATE", "TRAPS", "PAGEFAULTS", "SIGDROP", "COMMAND"], rows));
}

function segs(): void {
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

function stats(): void {
  const s = info("stats");
  println(Object.entries(s).map(([k, v]) => `${k.padEnd(16)} ${v}`).join("\n"));
}

function run(words: string[]): void {
  const background = words.at(-1) === "&";
  const [program, ...args] = background ? words.slice(0, -1) : words;
  if (!program) return println("run: which program?");
  const pid = spawn(program, args);
  if (background) return println(`[${pid}] ${program}`);
  for (;;) {
    const r = wait(-1);
    if (r.pid === pid) {
      if (r.status !== 0) println(`[${pid}] ${r.reason}`);
      return;
    }
    println(`[${r.pid}] done: ${r.reason}`);
  }
}

function signalNumber(word: string): number {
  const name = word.toUpperCase();
  const n = /^\d+$/.test(name) ? Number(name) : (Sig as Record<string, number>)[`SIG${name}`] ??
    (Sig as Record<string, number>)[name];
  if (!n) throw new TypeError(`kill: unknown signal ${word}`);
  return n;
}

function killCommand(words: string[]): void {
  const signo = words[0]?.startsWith("-") ? signalNumber(words.shift()!.slice(1)) : Sig.SIGTERM;
  if (words.length !== 1 || !/^\d+$/.test(words[0])) return println("usage: kill [-SIG] PID");
  kill(Number(words[0]), signo);
}

function nodes(): void {
  const rows = info("nodes").map((n: any) => [
    n.node,
    n.self ? "self" : n.up ? "up" : "down",
    n.incarnation ? (n.incarnation >>> 0).toString(16) : "?",
    n.self ? "-" : n.incarnation ? `${n.heardMsAgo} ms ago` : "not yet",
  ]);
  println(table(["NODE", "STATE", "INCARNATION", "HEARD"], rows));
}

function exportCommand(words: string[]): void {
  const [name, sizeText] = words;
  if (!name) return println("usage: export NAME [SIZE]");
  const size = Number(sizeText ?? 4096);
  const segment = CreateSegment(size);
  const at = bind(segment);
  const id = exportSegment(segment, name);
  println(`exported segment ${segment} as "${name}" (export ${id}), mapped here at ${hex(at)}`);
}

function importCommand(words: string[]): void {
  const [name, node] = words;
  if (!name) return println("usage: import NAME [NODE]");
  const r = importSegment(name, node === undefined ? {} : { hint: Number(node) });
  println(`descriptor ${r.desc}: "${name}", ${r.size} bytes`);
}

function names(): void {
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

function on(words: string[]): void {
  const [node, program, ...args] = words;
  if (node === undefined || !/^\d+$/.test(node) || !program) {
    return println("usage: on NODE PROGRAM [ARGS]");
  }
  startOn(Number(node), program, args);
  println(`asked node ${node} to start ${program}`);
}

const COMMANDS: Record<string, (words: string[]) => void> = {
  help: () => println(HELP),
  ps,
  segs,
  stats,
  run,
  kill: killCommand,
  nodes,
  export: exportCommand,
  import: importCommand,
  names,
  on,
};

export default function main(): number {
  println('emulator shell: type "help" for commands');
  for (;;) {
    print("$ ");
    const line = readLine();
    if (line === null) {
      println();
      return 0;
    }
    const [cmd, ...words] = line.trim().split(/\s+/).filter(Boolean);
    if (!cmd) continue;
    if (cmd === "exit") return 0;
    const fn = COMMANDS[cmd];
    if (!fn) {
      println(`${cmd}: unknown command (try "help")`);
      continue;
    }
    try {
      fn(words);
    } catch (e) {
      // A failed command never ends the shell.
      const text = e instanceof Error ? e.message : String(e);
      println(e instanceof SysError ? text : `${cmd}: ${text}`);
    }
  }
}
