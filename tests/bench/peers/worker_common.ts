// Worker-side helpers shared by the raw peer workers (no kernel involved).
//
// Protocol with the main thread (see ../peers.ts runWorkerPair):
//   worker -> main  {type: "ready"}                 once the module is evaluated
//   main -> worker  {type: "init", role, quick, budget_ms, ...extra}
//   A -> main       {type: "result", samples_us, n, batch}
//   any -> main     {type: "error", message}
//   B -> main       {type: "done"}                  when B's loop has returned

/** The init message a peer worker receives. `extra` fields are peer-specific. */
export interface PeerInit {
  type: "init";
  role: "A" | "B";
  quick: boolean;
  /** ms this worker may run before giving up (its own deadline) */
  budget_ms: number;
  sab?: SharedArrayBuffer;
  port?: MessagePort;
}

export interface PeerResult {
  samples_us: number[];
  n: number;
  /** operations per sample */
  batch: number;
}

/** A batch function performs `k` operations (round trips); it must be bounded
 * by `deadline` (performance.now() ms) and throw when it is exceeded. */
export type Batch = (k: number, deadline: number) => void | Promise<void>;

const TARGET_BATCH_US = 250; // one sample >= ~200 µs, well above timer resolution
const SAMPLES_FULL = 500;
const SAMPLES_QUICK = 20;
const WARMUP_MS_FULL = 150;
const WARMUP_MS_QUICK = 10;

export class DeadlineError extends Error {
  constructor(what: string) {
    super(`deadline exceeded: ${what}`);
  }
}

/** Calibrates the batch size, warms up, then collects samples of
 * elapsed/k µs. Runs inside worker A. */
export async function measureBatches(
  batch: Batch,
  quick: boolean,
  deadline: number,
): Promise<PeerResult> {
  const timeBatch = async (k: number): Promise<number> => {
    if (performance.now() > deadline) throw new DeadlineError("measurement");
    const t0 = performance.now();
    const r = batch(k, deadline);
    if (r !== undefined) await r;
    return (performance.now() - t0) * 1000;
  };

  // Calibrate: grow k until a batch takes at least the target time.
  let k = 1;
  for (;;) {
    const us = await timeBatch(k);
    if (us >= TARGET_BATCH_US) break;
    const grow = us <= 0 ? 8 : Math.ceil((TARGET_BATCH_US * 1.2) / us);
    k *= Math.min(8, Math.max(2, grow));
  }
  // Warm up at the chosen size, then re-size from the median of a few warm
  // batches until it reaches the target (cold batches, before the JIT and the
  // peer's loop have settled, overestimate the per-operation cost).
  const warmEnd = performance.now() + (quick ? WARMUP_MS_QUICK : WARMUP_MS_FULL);
  while (performance.now() < warmEnd) await timeBatch(k);
  for (let round = 0; round < 6; round++) {
    const warm: number[] = [];
    for (let i = 0; i < 7; i++) warm.push(await timeBatch(k));
    const typical = warm.sort((a, b) => a - b)[warm.length >> 1];
    if (typical >= TARGET_BATCH_US) break;
    k = Math.ceil((k * TARGET_BATCH_US * 1.2) / Math.max(typical, 1));
  }

  const count = quick ? SAMPLES_QUICK : SAMPLES_FULL;
  const samples_us: number[] = [];
  for (let i = 0; i < count; i++) samples_us.push((await timeBatch(k)) / k);
  return { samples_us, n: count * k, batch: k };
}

interface Scope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(msg: unknown): void;
}

/** Installs the worker's message handler and announces readiness.
 * `roleA` measures and returns the result; `roleB` serves until told to stop
 * (or its deadline passes). Both receive the init message and a deadline. */
export function servePeer(handlers: {
  A(init: PeerInit, deadline: number): Promise<PeerResult>;
  B(init: PeerInit, deadline: number): void | Promise<void>;
}): void {
  const scope = globalThis as unknown as Scope;
  scope.onmessage = async (e: MessageEvent) => {
    const init = e.data as PeerInit;
    if (init?.type !== "init") return;
    const deadline = performance.now() + init.budget_ms;
    try {
      if (init.role === "A") {
        const res = await handlers.A(init, deadline);
        scope.postMessage({ type: "result", ...res });
      } else {
        await handlers.B(init, deadline);
        scope.postMessage({ type: "done" });
      }
    } catch (err) {
      scope.postMessage({ type: "error", message: `${init.role}: ${String(err)}` });
    }
  };
  scope.postMessage({ type: "ready" });
}
