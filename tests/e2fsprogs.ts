/**
 * Debian's e2fsprogs for tests that check our ext2/ext3 code against the real tools:
 * making images (mke2fs), checking and replaying them (e2fsck), and reading or writing
 * them from outside (debugfs, dumpe2fs). The tools are found by running them, since
 * tests may read only `.` and /tmp: in /usr/sbin, /sbin, /usr/bin, then on PATH.
 *
 * A test that needs them says so with `ignore: withoutE2fsprogs()`, which prints once
 * why such tests are skipped. Images live in temporary directories under /tmp that
 * `withTempDir` removes.
 */

import { MemoryDevice } from "../servers/files/block_device.ts";

const TOOLS = ["mke2fs", "e2fsck", "debugfs", "dumpe2fs"] as const;
type Tool = typeof TOOLS[number];
const DIRS = ["/usr/sbin/", "/sbin/", "/usr/bin/", ""];

const found = new Map<Tool, string | null>();
let warned = false;

/** The command that runs `tool` (its path, or its bare name for PATH), or null if absent. */
function locate(tool: Tool): string | null {
  if (!found.has(tool)) {
    found.set(tool, null);
    for (const dir of DIRS) {
      try {
        new Deno.Command(dir + tool, { args: ["-V"], stdout: "null", stderr: "null" }).outputSync();
        found.set(tool, dir + tool);
        break;
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
  }
  return found.get(tool)!;
}

/** True if mke2fs, e2fsck, debugfs and dumpe2fs can all be run. */
export function e2fsprogs(): boolean {
  return TOOLS.every((t) => locate(t) !== null);
}

/** For `Deno.test({ ignore: withoutE2fsprogs(), ... })`: true, said once, if tools are missing. */
export function withoutE2fsprogs(): boolean {
  if (e2fsprogs()) return false;
  if (!warned) {
    const missing = TOOLS.filter((t) => locate(t) === null).join(", ");
    console.log(
      `e2fsprogs: ${missing} not found in ${DIRS.join(" ")}or PATH: skipping their tests`,
    );
    warned = true;
  }
  return true;
}

/** What a tool printed and how it ended. */
export interface ToolRun {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Runs `tool` with `args`, waiting for it; throws if the tool is not installed. */
export function run(tool: Tool, args: string[]): ToolRun {
  const command = locate(tool);
  if (command === null) throw new Error(`${tool} is not installed`);
  const out = new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).outputSync();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

/** Runs `tool` and returns its stdout as text; throws with its stderr if it exits non-zero. */
function runOk(tool: Tool, args: string[]): string {
  const r = run(tool, args);
  if (r.code !== 0) {
    throw new Error(`${tool} ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  }
  return new TextDecoder().decode(r.stdout);
}

/** Calls `fn` with a new directory under /tmp and removes the directory after. */
export async function withTempDir<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = Deno.makeTempDirSync({ dir: "/tmp", prefix: "e2fsprogs_test_" });
  try {
    return await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * Makes an ext3 image of `sizeMiB` MiB at `path` with the features our file server
 * supports (no dir_index, no resize_inode) and 4096-byte blocks.
 */
export function mkfsExt3(path: string, sizeMiB: number, extraArgs: string[] = []): void {
  runOk("mke2fs", [
    ...["-q", "-F", "-t", "ext3", "-O", "^dir_index,^resize_inode", "-b", "4096"],
    ...extraArgs,
    path,
    `${sizeMiB}M`,
  ]);
}

/** `e2fsck -fn`: a forced read-only check. Code 0 means clean; `out` is all it printed. */
export function fsck(path: string): { code: number; out: string } {
  return e2fsck(path, "-fn");
}

/** `e2fsck -fy`: a forced check that repairs, and first replays the journal if it must. */
export function fsckFix(path: string): { code: number; out: string } {
  return e2fsck(path, "-fy");
}

function e2fsck(path: string, flags: string): { code: number; out: string } {
  const r = run("e2fsck", [flags, path]);
  return { code: r.code, out: new TextDecoder().decode(r.stdout) + r.stderr };
}

/** `debugfs -R request`: its stdout (read-only unless `write`). Throws if debugfs fails. */
export function debugfs(path: string, request: string, o: { write?: boolean } = {}): string {
  return runOk("debugfs", [...(o.write ? ["-w"] : []), "-R", request, path]);
}

/**
 * Runs debugfs `commands` in one session (`debugfs -f`), e.g. jo / jw / jc to write a
 * journal transaction; returns stdout. Throws with stderr if a command reports an error.
 */
export function debugfsScript(
  path: string,
  commands: string[],
  o: { write?: boolean } = {},
): string {
  const script = `${path}.debugfs`;
  Deno.writeTextFileSync(script, commands.join("\n") + "\n");
  try {
    const r = run("debugfs", [...(o.write ? ["-w"] : []), "-f", script, path]);
    const errors = r.stderr.split("\n").filter((l) => l.trim() !== "" && !/^debugfs \d/.test(l));
    if (r.code !== 0 || errors.length > 0) {
      throw new Error(`debugfs ${commands.join("; ")}: ${errors.join("; ") || `exit ${r.code}`}`);
    }
    return new TextDecoder().decode(r.stdout);
  } finally {
    Deno.removeSync(script);
  }
}

/** The bytes of `file` in the image, as `debugfs -R "cat file"` prints them. */
export function debugfsCat(path: string, file: string): Uint8Array {
  const r = run("debugfs", ["-R", `cat ${file}`, path]);
  if (r.code !== 0) throw new Error(`debugfs cat ${file} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** `dumpe2fs` of the image (superblock and groups), as text. */
export function dumpe2fs(path: string): string {
  return runOk("dumpe2fs", [path]);
}

/** The free block ranges dumpe2fs lists for the image's groups, as [first, last] pairs. */
export function freeRanges(path: string): [number, number][] {
  const ranges: [number, number][] = [];
  for (const m of dumpe2fs(path).matchAll(/^\s+Free blocks: (.*)$/gm)) {
    for (const r of m[1].split(",").map((s) => s.trim()).filter((s) => s !== "")) {
      const [a, b = a] = r.split("-").map(Number);
      ranges.push([a, b]);
    }
  }
  return ranges;
}

/**
 * The device blocks of the journal (inode 8), in journal block order. Read from
 * debugfs's `stat <8>` listing, because `blocks <8>` also lists the indirect blocks
 * that map them.
 */
export function journalBlocks(path: string, blockSize = 4096): number[] {
  const stat = debugfs(path, "stat <8>");
  const size = Number(/Size: (\d+)/.exec(stat)?.[1]);
  const listing = stat.slice(stat.search(/^(BLOCKS|EXTENTS):/m));
  const blocks: number[] = [];
  for (const m of listing.matchAll(/\((\d+)(?:-(\d+))?\):(\d+)(?:-(\d+))?/g)) {
    const from = Number(m[1]), to = Number(m[2] ?? m[1]), device = Number(m[3]);
    if (from !== blocks.length) throw new Error(`journal listing skips to block ${from}: ${m[0]}`);
    for (let i = from; i <= to; i++) blocks.push(device + i - from);
  }
  if (blocks.length * blockSize !== size) {
    throw new Error(`journal of ${size} bytes listed as ${blocks.length} blocks`);
  }
  return blocks;
}

/** The whole image at `path` as a device in memory. */
export function imageDevice(path: string, blockSize = 4096): MemoryDevice {
  return new MemoryDevice(Deno.readFileSync(path), blockSize);
}

/** Writes `dev`'s bytes back to the image at `path`. */
export function saveDevice(dev: MemoryDevice, path: string): void {
  Deno.writeFileSync(path, dev.bytes);
}
