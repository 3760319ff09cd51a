/**
 * Process system calls for programs: exit, spawn, wait, kill, getpid, console I/O,
 * and the kernel's tables through `info`.
 */

import { DATA_BYTES, Sig } from "../../../kernel/abi/layout.ts";
import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import {
  ConsoleRead,
  ConsoleReadFlag,
  INFO_KIND_NAMES,
  spawnRequest,
  Sys,
} from "../../../kernel/abi/syscalls.ts";
import { putData, trap, trapReply } from "../rt/trap.ts";
import { rt } from "../rt/runtime.ts";

const utf8Length = (text: string) => new TextEncoder().encode(text).length;

/** Ends this process with `status` (0–255) and an optional reason. Never returns. */
export function exit(status = 0, reason = ""): never {
  putData(reason);
  trap(Sys.exit, status);
  throw new Error("exit returned"); // unreachable: the kernel stops the worker
}

export interface SpawnOptions {
  /** Segments the child may bind, with the rights it gets (at most the caller's). */
  share?: { segment: number; rights: number }[];
  /**
   * Capabilities for the child (a mask of `Cap`): only init may give any (EPERM for
   * everyone else); the child's own children never inherit them.
   */
  caps?: number;
  /**
   * Names only system servers may export on this node from now on: init reserves a
   * table server's name as it starts it (EPERM without `caps` holding Cap.SERVICE,
   * which only init may give).
   */
  reserve?: string[];
  /**
   * Label the child's console output "[node N pid P] " at each line's start (and
   * its children's): the exec server does, for programs other nodes start.
   */
  label?: boolean;
}

/** Starts `module` (a path or a program name such as "hello") as a child; returns its pid. */
export function spawn(module: string, args: string[] = [], opts: SpawnOptions = {}): number {
  const request = spawnRequest(module, args, opts);
  if (putData(request) < request.length) {
    throw new SysError(
      Errno.E2BIG,
      "spawn",
      `arguments too long: the request is ${utf8Length(request)} bytes, at most ${DATA_BYTES}`,
    );
  }
  return trap(Sys.spawn);
}

export interface WaitResult {
  pid: number;
  /** 0–255; 128+n when killed by signal n. */
  status: number;
  /** Why it ended, e.g. "exited with status 0" or "killed by SIGKILL from pid 2". */
  reason: string;
}

/**
 * Waits for a child (`pid`, or -1 for any) to exit and reaps it. `timeoutMs` -1 waits
 * forever, 0 polls (EAGAIN if none has exited); a timeout gives ETIMEDOUT.
 */
export function wait(pid = -1, timeoutMs = -1): WaitResult {
  const r = trapReply(Sys.wait, [pid, timeoutMs], { data: "text" });
  return { pid: r.result, status: r.result2, reason: r.data };
}

/**
 * Sends Unix-style signal `signo` (default SIGTERM) to `pid`: allowed to oneself, to
 * one's children, and for init and the shell (EPERM otherwise; ESRCH if none).
 */
export function kill(pid: number, signo: number = Sig.SIGTERM): void {
  trap(Sys.kill, pid, signo);
}

/** This process's pid. */
export function getpid(): number {
  return rt().pid;
}

/** The parent's pid (0 when the kernel itself started this process). */
export function getppid(): number {
  return trapReply(Sys.getpid, []).result2;
}

/** The arguments the process was started with. */
export function args(): readonly string[] {
  return rt().args;
}

/** The cheapest trap: enters the kernel and returns. */
export function nullTrap(): void {
  trap(Sys.null);
}

/** Writes text to the console through the kernel (fd 1 output, 2 errors), in full. */
export function print(text: string, fd = 1): void {
  let rest = text;
  do {
    const n = putData(rest);
    rest = rest.slice(n);
    trap(Sys.print, fd, rest.length > 0 ? 1 : 0); // 1: more of this text follows
  } while (rest.length > 0);
}

/** Writes a line to the console. */
export function println(text = ""): void {
  print(text + "\n");
}

/** Reads one console line (blocking); null at end of input. Control keys are left to others. */
export function readLine(): string | null {
  const input = readConsole();
  return input.kind === "line" ? input.text : null;
}

/** A piece of console input: a line, a control key (ConsoleKey), or end of input. */
export type ConsoleInput =
  | { kind: "line"; text: string }
  | { kind: "key"; key: number }
  | { kind: "eof" };

export interface ReadConsoleOptions {
  /** Take control keys (ConsoleKey: Ctrl-C, Ctrl-L, Ctrl-Z) as well as lines. */
  keys?: boolean;
  /** Take only control keys: lines stay queued for the next line read. */
  onlyKeys?: boolean;
  /**
   * A signal the kernel queues for this process (SIGCHLD, a kill; any signal on
   * the software path) that arrives first ends the read with SysError EINTR, after
   * its handler has run; nothing typed is lost. (A signal another process posts
   * itself on the hardware path does not interrupt the read: the kernel never sees it.)
   */
  interruptible?: boolean;
}

/**
 * Reads the next piece of console input (blocking): a whole line, a control key
 * when asked for keys, or end of input. Throws SysError EINTR when `interruptible`
 * and a signal came first.
 *
 * @example
 * ```ts
 * const input = readConsole({ keys: true });
 * if (input.kind === "key" && input.key === ConsoleKey.INTERRUPT) println("^C");
 * ```
 */
export function readConsole(opts: ReadConsoleOptions = {}): ConsoleInput {
  const flags = (opts.keys ? ConsoleReadFlag.KEYS : 0) |
    (opts.onlyKeys ? ConsoleReadFlag.ONLY_KEYS : 0) |
    (opts.interruptible ? ConsoleReadFlag.INTERRUPTIBLE : 0);
  let r = trapReply(Sys.console_read, [flags], { data: "text" });
  if (r.result2 === ConsoleRead.EOF) return { kind: "eof" };
  if (r.result2 === ConsoleRead.KEY) return { kind: "key", key: r.result };
  // The rest of a long line follows at once, with a plain read that takes only it.
  let text = r.data;
  while (r.result2 === ConsoleRead.MORE) {
    r = trapReply(Sys.console_read, [0], { data: "text" });
    if (r.result2 === ConsoleRead.EOF) break;
    text += r.data;
  }
  return { kind: "line", text };
}

/**
 * Reads one of the kernel's tables as parsed JSON: "ps", "segs", "stats", "self",
 * "nodes", "exports" (this node's), "descriptors" (this process's).
 */
export function info(kind: keyof typeof INFO_KIND_NAMES): any {
  const code = INFO_KIND_NAMES[kind];
  // Chunks are bytes: a character may be split between two of them.
  const parts: Uint8Array[] = [];
  let offset = 0, total = 0;
  do {
    const r = trapReply(Sys.info, [code, offset], { data: "bytes" });
    total = r.result2;
    parts.push(r.bytes!);
    offset += r.result;
    if (r.result === 0) break;
  } while (offset < total);
  const all = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return JSON.parse(new TextDecoder().decode(all));
}
