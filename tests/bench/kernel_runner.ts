// Runs a kernel-side bench program in a freshly booted node (spin-then-block, the
// default configuration) and returns the samples it reports.

import { Kernel, type KernelConfig } from "../../kernel/kernel.ts";
import { Cluster } from "../../kernel/cluster.ts";
import { MemoryConsole } from "../../kernel/host/console.ts";
import { WorkerHost } from "../../kernel/host/worker_host.ts";
import type { PeerResult } from "./peers/worker_common.ts";
import { DENO_RUN } from "../task_runner.ts";

/** Boots a node, runs `program` (in tests/bench/programs/) and parses its BENCH line. */
export async function runBenchProgram(
  program: string,
  opts: { quick: boolean },
  config: Partial<KernelConfig> = {},
): Promise<PeerResult> {
  const out = await runOnNode(program, opts, config);
  return JSON.parse(out.split("\n").find((l) => l.startsWith("BENCH "))!.slice(6));
}

/** Like runBenchProgram, for a program that reports several cases (BENCH lines with `case`). */
export async function runBenchProgramCases(
  program: string,
  opts: { quick: boolean },
  config: Partial<KernelConfig> = {},
): Promise<NamedResult[]> {
  return benchLines(await runOnNode(program, opts, config));
}

/** Boots a node, runs `program` to a successful exit with a BENCH line; returns its output. */
async function runOnNode(
  program: string,
  opts: { quick: boolean },
  config: Partial<KernelConfig>,
): Promise<string> {
  const console = new MemoryConsole();
  const kernel = new Kernel(new WorkerHost(), console, config);
  const url = new URL(`./programs/${program}.ts`, import.meta.url).href;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const p = kernel.spawn(url, opts.quick ? ["quick"] : []);
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${program}: no result in 60 s`)), 60_000);
    });
    const status = await Promise.race([p.exited, limit]);
    if (status.status !== 0 || !/^BENCH /m.test(console.out)) {
      throw new Error(`${program}: ${status.reason}\n${console.out}${console.err}`);
    }
    return console.out;
  } finally {
    clearTimeout(timer);
    kernel.halt();
  }
}

/** One BENCH line of a program that reports several cases. */
export interface NamedResult extends PeerResult {
  case: string;
}

/** The BENCH lines of a run; repeated cases (rounds) are pooled into one. */
export function benchLines(out: string): NamedResult[] {
  const byCase = new Map<string, NamedResult>();
  for (const line of out.split("\n")) {
    if (!line.startsWith("BENCH ")) continue;
    const r: NamedResult = JSON.parse(line.slice(6));
    const prev = byCase.get(r.case);
    if (!prev) byCase.set(r.case, r);
    else {
      prev.samples_us.push(...r.samples_us);
      prev.n += r.n;
    }
  }
  return [...byCase.values()];
}

const BENCH_PROGRAMS = new URL("./programs/", import.meta.url);

/** Where a cluster bench runs its programs. */
export interface ClusterLayout {
  /** Nodes in the cluster (default 2). */
  nodes?: number;
  config?: Partial<KernelConfig>;
  /** The serving program (in tests/bench/programs/) and its arguments, on node 0. */
  server?: string[];
  /** The node the measuring program runs on (default 1). */
  clientNode?: number;
  /** Arguments after "quick"|"full" (default: the server's node, "0"). */
  args?: string[];
}

/**
 * Boots in-process nodes with their servers (init --serve), starts the serving
 * program (remote_owner by default) on node 0, runs `program` on the client node
 * against it, and returns its cases.
 */
export async function runClusterBench(
  program: string,
  opts: { quick: boolean },
  layout: ClusterLayout = {},
): Promise<NamedResult[]> {
  const console = new MemoryConsole();
  const cluster = new Cluster(new WorkerHost(), console, {
    nodes: layout.nodes ?? 2,
    config: layout.config,
  });
  const init = new URL("../../userland/programs/init.ts", import.meta.url).href;
  const [server, ...serverArgs] = layout.server ?? ["remote_owner"];
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    for (const k of cluster.nodes) k.spawn(init, ["--serve"]);
    cluster.nodes[0].spawn(new URL(`${server}.ts`, BENCH_PROGRAMS).href, serverArgs);
    const p = cluster.nodes[layout.clientNode ?? 1].spawn(
      new URL(`${program}.ts`, BENCH_PROGRAMS).href,
      [opts.quick ? "quick" : "full", ...(layout.args ?? ["0"])],
    );
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${program}: no result in 180 s`)), 180_000);
    });
    const status = await Promise.race([p.exited, limit]);
    if (status.status !== 0) throw new Error(`${program}: ${status.reason}\n${console.err}`);
    return benchLines(console.out);
  } finally {
    clearTimeout(timer);
    cluster.halt();
  }
}

/**
 * Runs the same against two nodes in two Deno processes joined over TCP on
 * loopback (`deno task node`): node 0 serves remote_owner, node 1 runs `program`.
 */
export async function runTcpBench(
  program: string,
  opts: { quick: boolean; prefix: string },
): Promise<NamedResult[]> {
  const root = new URL("../../", import.meta.url);
  const secret = crypto.randomUUID();
  // `deno run` itself (not through `deno task`), so killing it kills the node.
  const node = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        ...DENO_RUN,
        "--allow-read=.",
        "--allow-net",
        "kernel/host/node_main.ts",
        "--secret",
        secret,
        ...args,
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
  const owner = node([
    "--id",
    "0",
    "--listen",
    "127.0.0.1:0",
    "--run",
    "tests/bench/programs/remote_owner.ts",
  ]);
  try {
    const port = await listeningPort(owner.stderr);
    const client = node([
      "--id",
      "1",
      "--listen",
      "127.0.0.1:0",
      "--join",
      `127.0.0.1:${port}`,
      "--run",
      `tests/bench/programs/${program}.ts`,
      opts.quick ? "quick" : "full",
      "0",
      opts.prefix,
    ]);
    const out = await client.output();
    const text = new TextDecoder().decode(out.stdout);
    if (out.code !== 0) {
      throw new Error(
        `${program} over TCP: exit ${out.code}\n${new TextDecoder().decode(out.stderr)}`,
      );
    }
    return benchLines(text);
  } finally {
    owner.kill("SIGKILL");
    await owner.status;
  }
}

/** Reads a node's stderr until it says where it listens; returns the port. */
async function listeningPort(stderr: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const m = /listening on [^:\s]+:(\d+)/.exec(text);
    if (m) {
      // Keep draining so the node never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done) { /* discard */ }
      })().catch(() => {});
      return Number(m[1]);
    }
  }
  throw new Error(`the owner node never said where it listens:\n${text}`);
}
