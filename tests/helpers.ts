/**
 * Test harness: boots a node in-process with a captured console, spawns test
 * programs (tests/programs/) as real sandboxed workers, and waits on conditions with
 * deadlines (never on sleeps).
 *
 * Nodes run block-only by default (no spinning on either side of a trap), so the
 * workers of a test never starve each other on a 2-core machine.
 */

import { Kernel, type KernelConfig } from "../kernel/kernel.ts";
import { Cluster, type ClusterOptions } from "../kernel/cluster.ts";
import { MemoryConsole } from "../kernel/host/console.ts";
import { WorkerHost } from "../kernel/host/worker_host.ts";
import type { ExitStatus, Process } from "../kernel/proc/process.ts";

export const BLOCK_ONLY: Partial<KernelConfig> = { spinUs: 0, processSpin: 0 };

/** The URL of a program in tests/programs/. */
export function program(name: string): string {
  return new URL(`./programs/${name}.ts`, import.meta.url).href;
}

export class TestNode {
  readonly console: MemoryConsole;
  readonly kernel: Kernel;

  constructor(config: Partial<KernelConfig> = {}, input: string[] = []) {
    this.console = new MemoryConsole(input);
    this.kernel = new Kernel(new WorkerHost(), this.console, { ...BLOCK_ONLY, ...config });
  }

  /** Starts a test program (by name) or any module path. */
  spawn(name: string, args: string[] = []): Process {
    return this.kernel.spawn(name.includes("/") ? name : program(name), args);
  }

  /** Runs a program to its end; rejects if it has not exited within `ms`. */
  async run(name: string, args: string[] = [], ms = 15_000): Promise<ExitStatus> {
    return await this.exited(this.spawn(name, args), ms);
  }

  /** Waits for a process to exit, with a deadline. */
  async exited(p: Process, ms = 15_000): Promise<ExitStatus> {
    return await withDeadline(p.exited, ms, `pid ${p.pid} to exit`);
  }

  /** Waits until `cond()` holds, re-checking on console output and every few ms. */
  async until(cond: () => boolean, ms = 15_000, what = "condition"): Promise<void> {
    const deadline = performance.now() + ms;
    while (!cond()) {
      if (performance.now() > deadline) {
        throw new Error(
          `timed out after ${ms} ms waiting for ${what}\n--- console ---\n${this.console.out}${this.console.err}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5);
        this.console.onWrite = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.console.onWrite = () => {};
  }

  /** Waits for a console line containing `text`. */
  async output(text: string, ms = 15_000): Promise<void> {
    await this.until(() => this.console.out.includes(text), ms, JSON.stringify(text));
  }

  /** Parsed `RESULT <json>` lines a test program printed, in order. */
  results(): any[] {
    return this.console.out.split("\n").filter((l) => l.startsWith("RESULT ")).map((l) =>
      JSON.parse(l.slice(7))
    );
  }

  close(): void {
    this.kernel.halt();
  }
}

/** Runs `fn` with a fresh node and always halts it. */
export async function withNode(
  fn: (node: TestNode) => Promise<void>,
  config: Partial<KernelConfig> = {},
  input: string[] = [],
): Promise<void> {
  const node = new TestNode(config, input);
  try {
    await fn(node);
  } finally {
    node.close();
    // Let terminated workers and the trap service's pending wait settle.
    await new Promise((r) => setTimeout(r, 0));
  }
}

/** Resolves like `p`, or rejects naming `what` after `ms`. */
export async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Several nodes in one process, each with its name clerk running (pid 1 on each). */
export class TestCluster {
  readonly console: MemoryConsole;
  readonly cluster: Cluster;
  readonly clerks: Process[] = [];

  constructor(nodes = 2, config: Partial<KernelConfig> = {}, opts: Partial<ClusterOptions> = {}) {
    this.console = new MemoryConsole();
    this.cluster = new Cluster(new WorkerHost(), this.console, {
      ...opts,
      nodes,
      config: { ...BLOCK_ONLY, ...config },
    });
  }

  /** Starts a name clerk on every node and waits until each has attached. */
  async startClerks(refreshMs = 200): Promise<void> {
    const clerk = new URL("../servers/names/mod.ts", import.meta.url).href;
    for (const k of this.cluster.nodes) this.clerks.push(k.spawn(clerk, [String(refreshMs)]));
    const deadline = performance.now() + 15_000;
    while (this.cluster.nodes.some((k) => !k.names)) {
      if (performance.now() > deadline) throw new Error("name clerks did not attach in 15 s");
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  node(i: number): Kernel {
    return this.cluster.nodes[i];
  }

  /** Runs a test program on node `i` to its end. */
  async run(i: number, name: string, args: string[] = [], ms = 15_000): Promise<ExitStatus> {
    const p = this.node(i).spawn(name.includes("/") ? name : program(name), args);
    return await withDeadline(p.exited, ms, `${name} on node ${i} to exit`);
  }

  spawn(i: number, name: string, args: string[] = []): Process {
    return this.node(i).spawn(name.includes("/") ? name : program(name), args);
  }

  results(): any[] {
    return this.console.out.split("\n").filter((l) => l.startsWith("RESULT ")).map((l) =>
      JSON.parse(l.slice(7))
    );
  }

  close(): void {
    this.cluster.halt();
  }
}

/** Runs `fn` with a fresh cluster whose clerks are up, and always halts it. */
export async function withCluster(
  fn: (c: TestCluster) => Promise<void>,
  nodes = 2,
  config: Partial<KernelConfig> = {},
  opts: Partial<ClusterOptions> = {},
): Promise<void> {
  const c = new TestCluster(nodes, config, opts);
  try {
    await c.startClerks();
    await fn(c);
  } finally {
    c.close();
    await new Promise((r) => setTimeout(r, 0));
  }
}
