/**
 * Command-line handling shared by `deno task boot` and `deno task node`: the kernel
 * options, `--run PROGRAM [ARGS...]` (everything after the program is its), and a
 * clear error with the usage line for anything else.
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { DATA_BYTES, PAGE_SIZE } from "../abi/layout.ts";

const MIB = 1024 * 1024;
import { spawnRequest } from "../abi/syscalls.ts";
import { DISK_MODEL_NAMES, type DiskModelName } from "../abi/disk.ts";
import type { KernelConfig } from "../kernel.ts";
import { parseTraceKinds } from "../trace.ts";
import type { TerminalConsole } from "./console.ts";
import { HostDisk, parseDiskSpec } from "./host_disk.ts";

export const KERNEL_OPTIONS = {
  trace: { type: "string", default: "" },
  "block-only": { type: "boolean", default: false },
  "spin-us": { type: "string" },
  disk: { type: "string", multiple: true, default: [] },
  "disk-model": { type: "string", default: "ssd" },
  "memory-mib": { type: "string" },
  swap: { type: "string" },
  "swap-scope": { type: "string", default: "all" },
  "memory-server": { type: "string" },
  "files-path": { type: "string", default: "dx" },
  help: { type: "boolean", short: "h", default: false },
} as const;

export class UsageError extends Error {}

/**
 * Splits argv at --run: everything after the program belongs to it. The program
 * and its arguments must fit in the spawn request init makes for it (UsageError:
 * "arguments too long").
 */
export function splitRun(argv: string[]): { own: string[]; run: string[] | null } {
  const i = argv.indexOf("--run");
  if (i < 0) return { own: argv, run: null };
  const run = argv.slice(i + 1);
  if (run.length === 0) throw new UsageError("--run needs a program");
  const bytes = new TextEncoder().encode(spawnRequest(run[0], run.slice(1))).length;
  if (bytes > DATA_BYTES) {
    throw new UsageError(
      `--run: arguments too long: the program and its arguments take ${bytes} bytes ` +
        `in a spawn request, at most ${DATA_BYTES}`,
    );
  }
  return { own: argv.slice(0, i), run };
}

/** Parses `own` with the kernel options plus `extra`; throws UsageError. */
export function parseOptions<T extends NonNullable<ParseArgsConfig["options"]>>(
  own: string[],
  extra: T,
) {
  // `--swap` alone (next to another flag, or last) asks for a temporary swap file.
  const bare = (i: number) => own[i] === "--swap" && (own[i + 1] ?? "--").startsWith("--");
  const args = own.map((a, i) => bare(i) ? "--swap=" : a);
  try {
    return parseArgs({
      args,
      options: { ...KERNEL_OPTIONS, ...extra },
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | boolean | string[] | undefined>;
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

/** The kernel configuration the common options ask for. */
export function kernelConfig(values: Record<string, unknown>): Partial<KernelConfig> {
  let trace;
  try {
    trace = parseTraceKinds(String(values.trace ?? ""));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const raw = values["spin-us"];
  const spinUs = raw === undefined ? undefined : Number(raw);
  if (spinUs !== undefined && !(Number.isFinite(spinUs) && spinUs >= 0)) {
    throw new UsageError(`--spin-us must be a number of microseconds ≥ 0, not "${raw}"`);
  }
  const diskModel = String(values["disk-model"] ?? "ssd") as DiskModelName;
  if (!DISK_MODEL_NAMES.includes(diskModel)) {
    throw new UsageError(
      `--disk-model must be ${DISK_MODEL_NAMES.join(" or ")}, not "${diskModel}"`,
    );
  }
  const mib = values["memory-mib"];
  const memoryFrames = mib === undefined ? undefined : Number(mib) * (MIB / PAGE_SIZE);
  if (memoryFrames !== undefined && !(Number.isInteger(memoryFrames) && memoryFrames >= 1)) {
    throw new UsageError(`--memory-mib must be a whole number of MiB ≥ 1, not "${mib}"`);
  }
  const scope = String(values["swap-scope"] ?? "all");
  if (scope !== "all" && scope !== "opt-in") {
    throw new UsageError(`--swap-scope must be all or opt-in, not "${scope}"`);
  }
  const ms = values["memory-server"];
  const memoryServerNode = ms === undefined ? -1 : Number(ms);
  if (!(Number.isInteger(memoryServerNode) && memoryServerNode >= -1 && memoryServerNode < 64)) {
    throw new UsageError(`--memory-server must be a node number, not "${ms}"`);
  }
  const filesPath = String(values["files-path"] ?? "dx");
  if (filesPath !== "dx" && filesPath !== "hy") {
    throw new UsageError(`--files-path must be dx or hy, not "${filesPath}"`);
  }
  return {
    trace,
    diskModel,
    swapAll: scope === "all",
    memoryServerNode,
    filesPath: filesPath as "dx" | "hy",
    ...(memoryFrames !== undefined ? { memoryFrames } : {}),
    ...(values["block-only"] ? { spinUs: 0, processSpin: 0 } : {}),
    ...(spinUs !== undefined ? { spinUs } : {}),
  };
}

/**
 * Opens the images `--disk PATH[:SIZE]` names (kernel/host/host_disk.ts), in order:
 * the node's disks 0, 1, …; throws UsageError naming the one that fails.
 */
export async function openDisks(values: Record<string, unknown>): Promise<HostDisk[]> {
  const disks: HostDisk[] = [];
  for (const spec of (values.disk ?? []) as string[]) {
    try {
      const { path, size } = parseDiskSpec(spec);
      disks.push(await HostDisk.open(path, size));
    } catch (e) {
      for (const d of disks) await d.close();
      const denied = e instanceof Deno.errors.NotCapable ||
        e instanceof Deno.errors.PermissionDenied;
      const hint = denied
        ? " (the boot and node tasks may write images only under disks/; elsewhere, run deno " +
          "with --allow-read and --allow-write for the path)"
        : "";
      throw new UsageError(`--disk ${spec}: ${(e as Error).message}${hint}`);
    }
  }
  return disks;
}

/** The swap file's size unless `--swap PATH:SIZE` says. */
export const DEFAULT_SWAP_BYTES = 256 * MIB;

/**
 * Opens node `node`'s swap disk if `--swap` asked for one: `--swap PATH[:SIZE]`
 * names node 0's image (node k's is PATH.k); a bare `--swap` makes a temporary
 * file under disks/ that `closeSwap` deletes. Null without `--swap`.
 */
export async function openSwap(
  values: Record<string, unknown>,
  node: number,
): Promise<{ disk: HostDisk; temporary: string | null } | null> {
  const spec = values.swap;
  if (spec === undefined) return null;
  try {
    if (spec === "") {
      await Deno.mkdir("disks", { recursive: true });
      const path = await Deno.makeTempFile({ dir: "disks", prefix: `swap-node${node}-` });
      return { disk: await HostDisk.open(path, DEFAULT_SWAP_BYTES), temporary: path };
    }
    const { path, size } = parseDiskSpec(String(spec));
    const mine = node === 0 ? path : `${path}.${node}`;
    return { disk: await HostDisk.open(mine, size ?? DEFAULT_SWAP_BYTES), temporary: null };
  } catch (e) {
    throw new UsageError(`--swap ${spec}: ${(e as Error).message}`);
  }
}

/** Closes a swap disk, deleting it if it was a temporary file. */
export async function closeSwap(s: { disk: HostDisk; temporary: string | null } | null) {
  if (!s) return;
  await s.disk.close();
  if (s.temporary) await Deno.remove(s.temporary).catch(() => {});
}

/** Runs a CLI main, turning UsageError into the usage line and exit status 2. */
export async function runCli(name: string, usage: string, main: () => Promise<number>) {
  let status: number;
  try {
    status = await main();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${name}: ${e.message}\n${usage}`);
    Deno.exit(2);
  }
  Deno.exit(status);
}

/** init's arguments for a node: run one program, serve headless, or the shell. */
export function initArgs(run: string[] | null, serve: boolean): string[] {
  if (run) return ["--run", ...run];
  return serve ? ["--serve"] : [];
}

/**
 * Wires the terminal's Ctrl-C for a CLI: a SIGINT the host gets becomes the Ctrl-C
 * key (the shell, or init with --run, sends the foreground program SIGINT), and a
 * second Ctrl-C within a second ends the process with status 130, saying so, after
 * `halt` (which stops the node or the cluster) and with the terminal restored.
 */
export function endOnSecondInterrupt(name: string, terminal: TerminalConsole, halt: () => void) {
  terminal.listenForInterrupt();
  terminal.onSecondInterrupt = () => {
    terminal.write(2, `\n${name}: a second Ctrl-C within a second: ending the emulator\n`);
    halt();
    terminal.restore();
    Deno.exit(130);
  };
}
