/**
 * The shell's file commands (userland/lib/fs): ls, cat, write, mkdir, rm, mv, df.
 * Paths are absolute, or taken from / (there is no working directory). A failed
 * call throws its SysError, which the shell prints as "cmd: why (CODE)".
 */

import { fs, println } from "../../lib/mod.ts";
import { CommandError } from "./words.ts";

/** `ls [PATH]`: a directory's entries (name, type, size), or one file's line. */
export function ls(words: string[]): void {
  const path = words[0] ?? "/";
  const st = fs.stat(path);
  if (st.type !== "dir") {
    println(line(path.split("/").pop() ?? path, st.type, st.size));
    return;
  }
  const base = path.endsWith("/") ? path : `${path}/`;
  for (const e of fs.readdir(path).sort((a, b) => a.name < b.name ? -1 : 1)) {
    const size = e.type === "dir" ? "-" : String(fs.stat(base + e.name).size);
    println(line(e.type === "dir" ? `${e.name}/` : e.name, e.type, size));
  }
}

function line(name: string, type: string, size: number | string): string {
  return `${String(size).padStart(10)}  ${type.padEnd(4)}  ${name}`;
}

/** `cat FILE...`: the files' bytes as text. */
export function cat(words: string[]): void {
  if (words.length === 0) throw new CommandError("usage: cat FILE...");
  for (const path of words) {
    const text = new TextDecoder().decode(fs.readFile(path));
    println(text.endsWith("\n") ? text.slice(0, -1) : text);
  }
}

/** `write FILE TEXT...`: the file becomes the rest of the line (joined by spaces) and a newline. */
export function write(words: string[]): void {
  const [path, ...text] = words;
  if (!path) throw new CommandError("usage: write FILE TEXT...");
  fs.writeFile(path, text.length > 0 ? `${text.join(" ")}\n` : "");
}

/** `mkdir DIR...`. */
export function mkdir(words: string[]): void {
  if (words.length === 0) throw new CommandError("usage: mkdir DIR...");
  for (const path of words) fs.mkdir(path);
}

/** `rm [-r] PATH...`: files, and with -r directories and all in them (an empty one without). */
export function rm(words: string[]): void {
  const recursive = words[0] === "-r";
  const paths = recursive ? words.slice(1) : words;
  if (paths.length === 0) throw new CommandError("usage: rm [-r] PATH...");
  for (const path of paths) remove(path, recursive);
}

function remove(path: string, recursive: boolean): void {
  if (fs.stat(path).type !== "dir") return fs.unlink(path);
  if (recursive) { for (const e of fs.readdir(path)) remove(`${path}/${e.name}`, true); }
  fs.rmdir(path);
}

/** `mv FROM TO`. */
export function mv(words: string[]): void {
  if (words.length !== 2) throw new CommandError("usage: mv FROM TO");
  fs.rename(words[0], words[1]);
}

/** `df`: the file system's blocks and inodes, used and free. */
export function df(): void {
  const u = fs.statfs();
  const mib = (blocks: number) => ((blocks * u.blockSize) / 2 ** 20).toFixed(1);
  println(`${"".padEnd(8)}${"total".padStart(10)}${"used".padStart(10)}${"free".padStart(10)}`);
  println(
    `${"MiB".padEnd(8)}${mib(u.blocks).padStart(10)}${mib(u.blocks - u.freeBlocks).padStart(10)}` +
      `${mib(u.freeBlocks).padStart(10)}`,
  );
  println(
    `${"inodes".padEnd(8)}${String(u.inodes).padStart(10)}` +
      `${String(u.inodes - u.freeInodes).padStart(10)}${String(u.freeInodes).padStart(10)}`,
  );
}
