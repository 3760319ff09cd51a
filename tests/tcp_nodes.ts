/**
 * Nodes as real subprocesses (`deno task node`) for the TCP tests: output captured
 * as it streams, waits with deadlines, and every process killed in the end.
 */

import { withDeadline } from "./helpers.ts";

export const ROOT = new URL("../", import.meta.url);
export const SECRET = "correct horse battery staple";
export const WAIT_MS = 20_000;

/** Starts `deno task node ARGS` in the repository, its output piped. */
export function spawnNode(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "node", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** One `deno task node` subprocess with its output captured as it streams. */
export class NodeProc {
  readonly id: number;
  readonly child: Deno.ChildProcess;
  out = "";
  err = "";
  readonly #pumps: Promise<void>[];
  #changed: () => void = () => {};
  #status: Deno.CommandStatus | null = null;

  constructor(id: number, args: string[]) {
    this.id = id;
    this.child = spawnNode(args);
    this.#pumps = [
      this.#pump(this.child.stdout, (t) => this.out += t),
      this.#pump(this.child.stderr, (t) => this.err += t),
    ];
    this.child.status.then((s) => {
      this.#status = s;
      this.#changed();
    });
  }

  async #pump(stream: ReadableStream<Uint8Array>, add: (text: string) => void): Promise<void> {
    const d = new TextDecoder();
    try {
      for await (const chunk of stream) {
        add(d.decode(chunk, { stream: true }));
        this.#changed();
      }
    } catch {
      // the stream was cancelled by close()
    }
  }

  /** Waits until `cond()` holds, re-checking on output and exit; fails after `ms`. */
  async until(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    const deadline = performance.now() + ms;
    while (!cond()) {
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `node ${this.id}: timed out after ${ms} ms waiting for ${what}\n` +
            `--- stdout ---\n${this.out}--- stderr ---\n${this.err}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#changed = resolve;
        timer = setTimeout(resolve, Math.min(left, 250));
      });
      clearTimeout(timer);
      this.#changed = () => {};
    }
  }

  /** The HOST:PORT the node printed it is listening on. */
  async address(): Promise<string> {
    const a = await this.netAddr();
    return `${a.hostname}:${a.port}`;
  }

  /** The same address, for Deno.connect. */
  async netAddr(): Promise<{ hostname: string; port: number }> {
    const re = new RegExp(`^node ${this.id} listening on (\\S+):(\\d+)$`, "m");
    await this.until(() => re.test(this.err), `"node ${this.id} listening on"`);
    const m = re.exec(this.err)!;
    return { hostname: m[1], port: Number(m[2]) };
  }

  /** Parsed `RESULT <json>` lines on stdout. */
  results(): any[] {
    return this.out.split("\n").filter((l) => l.startsWith("RESULT ")).map((l) =>
      JSON.parse(l.slice(7))
    );
  }

  /** Waits for the process to end by itself; returns its exit code. */
  async exited(ms = WAIT_MS): Promise<number> {
    await this.until(() => this.#status !== null, "exit", ms);
    return this.#status!.code;
  }

  /** Kills it if still running and waits for it and its output streams to end. */
  async close(): Promise<void> {
    if (this.#status === null) {
      try {
        this.child.kill("SIGTERM"); // deno task passes it on to the node
      } catch {
        // already gone
      }
      try {
        await withDeadline(this.child.status, 10_000, `node ${this.id} to end`);
      } catch {
        try {
          this.child.kill("SIGKILL");
        } catch {
          // already gone
        }
        await this.child.status;
      }
    }
    try {
      await withDeadline(Promise.all(this.#pumps), 5_000, `node ${this.id}'s output to end`);
    } catch {
      // a grandchild still holds the pipes: stop reading them
      await Promise.allSettled([this.child.stdout.cancel(), this.child.stderr.cancel()]);
    }
  }
}

/** Starts `deno task node --id ID --listen 127.0.0.1:0 --secret S ARGS`. */
export function node(id: number, args: string[] = [], secret = SECRET): NodeProc {
  return nodeAt(id, "127.0.0.1:0", args, secret);
}

/** The same, listening on `listen` (HOST:PORT): a node restarted where it was. */
export function nodeAt(id: number, listen: string, args: string[], secret = SECRET): NodeProc {
  return new NodeProc(id, [
    "--id",
    String(id),
    "--listen",
    listen,
    "--secret",
    secret,
    "--block-only",
    ...args,
  ]);
}

/** Runs `fn` with a list to which it adds nodes; kills them all in the end. */
export async function withNodes(fn: (nodes: NodeProc[]) => Promise<void>): Promise<void> {
  const nodes: NodeProc[] = [];
  try {
    await fn(nodes);
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
}
