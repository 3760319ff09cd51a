/**
 * The shell: reads commands from the console and runs them. `help` lists the
 * commands (HELP below). Words are split as sh splits them (shell/words.ts):
 * quotes, backslashes, `$?` for the last status, a trailing `&` for the
 * background. Programs run as jobs (shell/jobs.ts).
 *
 * Keys (the console's control keys, kernel/abi/syscalls.ts ConsoleKey): at the
 * prompt Ctrl-C drops the line, Ctrl-L clears the screen, Ctrl-D (end of input)
 * leaves. While a job runs in the foreground the shell keeps reading the keyboard,
 * for keys only (lines typed meanwhile wait for the next prompt): Ctrl-C sends the
 * job SIGINT, whose default action ends it (status 130); Ctrl-Z leaves it running
 * in the background. A job that ends is reported at once, even at the prompt: the
 * read is interrupted by the SIGCHLD the kernel sends (sys/foreground.ts).
 */

import {
  awaitChildOrInput,
  bind,
  ConsoleKey,
  CreateSegment,
  exportSegment,
  type ForegroundEvent,
  importSegment,
  info,
  kill,
  MAX_SIGNO,
  print,
  println,
  type ReadConsoleOptions,
  Sig,
  SIGNAL_NAMES,
  spawn,
  startOn,
  SysError,
  type WaitResult,
} from "../lib/mod.ts";
import { describeExit, type Job, JobTable } from "./shell/jobs.ts";
import { free, hex, names, nodes, ps, segs, stats, table } from "./shell/tables.ts";
import * as files from "./shell/files.ts";
import { CommandError, splitWords } from "./shell/words.ts";

const HELP = `commands:
  help                 this list
  ps                   processes
  free                 page frames: in use, free, evictions; resident pages per process
  run PROGRAM [ARGS]   start a program as a job and wait for it (end with & to not wait)
  jobs                 the jobs still running
  fg [N]               wait for job N (the newest) in the foreground
  bg [N]               say where job N runs (jobs are never stopped)
  kill [-SIG] PID|%N   send a signal to a process or a job (default TERM)
  echo [WORDS]         print the words ("echo $?": the last status)
  segs                 segments
  stats                kernel counters
  nodes                the cluster's nodes as this node sees them
  export NAME [SIZE]   create a segment (default 4096 bytes) and export it by name
  import NAME [NODE]   import a name (looking on NODE if it is not known here)
  names                this node's exports and the shell's descriptors
  on NODE PROGRAM [ARGS]  start a program on another node
  ls [PATH]            a directory's entries (or a file): size, type, name
  cat FILE...          files as text
  write FILE TEXT...   the file becomes TEXT (the rest of the line) and a newline
  mkdir DIR...         make directories
  rm [-r] PATH...      remove files (and with -r directories and their contents)
  mv FROM TO           rename or move
  df                   the file system's space and inodes
  exit                 leave the shell
keys: Ctrl-C interrupts the foreground job (SIGINT), Ctrl-Z leaves it in the
background, Ctrl-L clears the screen, Ctrl-D leaves; quote words with "..." or '...'`;

const jobs = new JobTable();
/** The last command's status: `$?`. */
let lastStatus = 0;

/** A word as it would be typed: quoted if it holds blanks, quotes or is empty. */
const quoted = (w: string) => /^[^\s"'\\$&]+$/.test(w) ? w : JSON.stringify(w);

/** Starts a program as a job; in the foreground, waits for it. Returns the status. */
function run(words: string[], background: boolean): number {
  const [program, ...args] = words;
  if (!program) throw new CommandError("which program?");
  const job = jobs.add(spawn(program, args), words.map(quoted).join(" "));
  if (background) {
    println(`[${job.id}] pid ${job.pid}  ${job.command}`);
    return 0;
  }
  return foreground(job);
}

/** Reports a reaped child; returns its status if it was `job`. */
function reaped(r: WaitResult, job: Job | null = null): number | null {
  const done = jobs.finish(r);
  println(
    `[${done ? done.id : `pid ${r.pid}`}] ${describeExit(r)}  ${done?.command ?? ""}`.trimEnd(),
  );
  return done && done === job ? r.status : null;
}

/**
 * Waits for `job` while reading the keyboard for keys only: Ctrl-C sends it SIGINT,
 * Ctrl-Z leaves it in the background. Other jobs that end meanwhile are reported.
 * Returns its status (0 when it was left in the background).
 */
function foreground(job: Job): number {
  let read: ReadConsoleOptions | null = { onlyKeys: true };
  for (;;) {
    let e: ForegroundEvent;
    try {
      e = awaitChildOrInput(read);
    } catch (err) {
      if (err instanceof SysError && err.code === "ECHILD") return 0; // reaped elsewhere
      throw err;
    }
    if (e.kind === "child") {
      const status = reaped(e.child, job);
      if (status !== null) return status;
    } else if (e.kind === "eof") read = null; // no more keys: just wait
    else if (e.kind === "key" && e.key === ConsoleKey.INTERRUPT) {
      println(); // after the terminal's "^C"
      signalJob(job, Sig.SIGINT);
    } else if (e.kind === "key" && e.key === ConsoleKey.BACKGROUND) {
      println(`\n[${job.id}] pid ${job.pid}  ${job.command} &  (left running in the background)`);
      return 0;
    }
  }
}

/** Sends `signo` to a job's process, unless it has just ended (it is reaped next). */
function signalJob(job: Job, signo: number): void {
  try {
    kill(job.pid, signo);
  } catch (e) {
    if (!(e instanceof SysError && e.code === "ESRCH")) throw e;
  }
}

function jobsCommand(): void {
  const rows = jobs.all().map((j) => [`[${j.id}]`, j.pid, "running", j.command]);
  if (rows.length) println(table(["JOB", "PID", "STATE", "COMMAND"], rows));
}

function fg(words: string[]): number {
  if (words.length > 1) throw new CommandError("usage: fg [N]");
  const job = jobs.find(words[0]);
  println(job.command);
  return foreground(job);
}

function bg(words: string[]): void {
  if (words.length > 1) throw new CommandError("usage: bg [N]");
  const job = jobs.find(words[0]);
  println(`[${job.id}] pid ${job.pid}  ${job.command} &  (running: jobs are never stopped)`);
}

const SIGNAL_LIST = Object.values(SIGNAL_NAMES).map((n) => n.slice(3)).join(", ");

/** A signal by name (INT, SIGINT, any case) or number; throws CommandError. */
function signalNumber(word: string): number {
  const name = word.toUpperCase();
  const byName = (Sig as Record<string, number>)[name.startsWith("SIG") ? name : `SIG${name}`];
  const n = /^\d+$/.test(name) ? Number(name) : byName;
  if (!n || n > MAX_SIGNO) {
    throw new CommandError(`unknown signal ${word} (${SIGNAL_LIST}, or 1 to ${MAX_SIGNO})`);
  }
  return n;
}

function killCommand(words: string[]): void {
  const signo = words[0]?.startsWith("-") ? signalNumber(words.shift()!.slice(1)) : Sig.SIGTERM;
  if (words.length !== 1) throw new CommandError("usage: kill [-SIG] PID|%N");
  const target = words[0];
  if (target.startsWith("%")) return signalJob(jobs.find(target), signo);
  if (!/^\d+$/.test(target)) throw new CommandError(`${target} is not a pid (or %N, a job)`);
  kill(Number(target), signo);
}

function exportCommand(words: string[]): void {
  const [name, sizeText] = words;
  if (!name) throw new CommandError("usage: export NAME [SIZE]");
  const size = Number(sizeText ?? 4096);
  const segment = CreateSegment(size);
  const at = bind(segment);
  const id = exportSegment(segment, name);
  println(`exported segment ${segment} as "${name}" (export ${id}), mapped here at ${hex(at)}`);
}

function importCommand(words: string[]): void {
  const [name, node] = words;
  if (!name) throw new CommandError("usage: import NAME [NODE]");
  const r = importSegment(name, node === undefined ? {} : { hint: Number(node) });
  println(`descriptor ${r.desc}: "${name}", ${r.size} bytes`);
}

function on(words: string[]): void {
  const [node, program, ...args] = words;
  if (node === undefined || !/^\d+$/.test(node) || !program) {
    throw new CommandError("usage: on NODE PROGRAM [ARGS]");
  }
  const known: any[] = info("nodes");
  const target = known.find((n) => n.node === Number(node));
  if (!target) {
    const list = known.map((n) => n.node).join(", ");
    throw new CommandError(`there is no node ${node} (the nodes are ${list})`);
  }
  if (!target.self && !target.up && target.incarnation) {
    throw new CommandError(`node ${node} is down`);
  }
  // Said first: the program's output, or the exec server's failure, comes after.
  println(`asking node ${node} to start ${words.slice(1).join(" ")}`);
  startOn(Number(node), program, args);
}

/** A command: its words after its name; whether the line ended with &. Returns its status. */
type Command = (words: string[], background: boolean) => number | void;

const COMMANDS: Record<string, Command> = {
  help: () => println(HELP),
  ps,
  free,
  segs,
  stats,
  run,
  jobs: jobsCommand,
  fg,
  bg,
  kill: killCommand,
  echo: (words) => println(words.join(" ")),
  nodes,
  export: exportCommand,
  import: importCommand,
  names,
  on,
  ls: files.ls,
  cat: files.cat,
  write: files.write,
  mkdir: files.mkdir,
  rm: files.rm,
  mv: files.mv,
  df: files.df,
};

/** What a failed command says, once: "kill: no process 999 (ESRCH)". */
function failure(cmd: string, e: unknown): string {
  if (e instanceof SysError) return `${cmd}: ${e.detail || e.message} (${e.code})`;
  return `${cmd}: ${e instanceof Error ? e.message : String(e)}`;
}

/** Runs one command line; returns false for `exit`. Sets the last status. */
function execute(line: string): boolean {
  let words: string[], background: boolean;
  try {
    ({ words, background } = splitWords(line, lastStatus));
  } catch (e) {
    println(failure("sh", e));
    lastStatus = 2;
    return true;
  }
  const [cmd, ...rest] = words;
  if (cmd === undefined) return true;
  if (cmd === "exit") return false;
  const fn = COMMANDS[cmd];
  if (!fn) {
    println(`${cmd}: unknown command (try "help")`);
    lastStatus = 127;
  } else if (background && cmd !== "run") {
    println(`${cmd}: only run takes &`);
    lastStatus = 2;
  } else {
    try {
      lastStatus = fn(rest, background) ?? 0;
    } catch (e) {
      // A failed command never ends the shell.
      println(failure(cmd, e));
      lastStatus = 1;
    }
  }
  return true;
}

const CLEAR_SCREEN = "\x1b[H\x1b[2J";

export default function main(): number {
  println('emulator shell: type "help" for commands');
  let prompted = false;
  for (;;) {
    if (!prompted) print("$ ");
    prompted = true;
    const e = awaitChildOrInput({ keys: true });
    if (e.kind === "child") {
      // A background job ended while the prompt waited: reported on a line of its own.
      print("\n");
      reaped(e.child);
    } else if (e.kind === "eof") {
      println();
      return 0;
    } else if (e.kind === "key") {
      if (e.key === ConsoleKey.CLEAR) print(CLEAR_SCREEN);
      else if (e.key === ConsoleKey.INTERRUPT) print("\n");
    } else if (!execute(e.text)) return 0;
    prompted = false;
  }
}
