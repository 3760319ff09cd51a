// Raw-worker peers: what the emulator's trap path is compared against.
// Two plain Deno workers (no kernel); worker A does all the timing with
// performance.now() and posts its samples back when done.

import type { PeerResult } from "./peers/worker_common.ts";

export type { PeerResult };

export interface PeerOpts {
  quick: boolean;
}

export interface PairSpec {
  /** module URL of a worker script built with servePeer() */
  script: URL;
  quick: boolean;
  /** extra init fields for both workers (e.g. a SharedArrayBuffer) */
  shared?: Record<string, unknown>;
  /** extra init fields and transferables per role (e.g. a MessagePort) */
  a?: { init?: Record<string, unknown>; transfer?: Transferable[] };
  b?: { init?: Record<string, unknown>; transfer?: Transferable[] };
  /** A's own deadline in ms; B gets a bit more, the main thread more still */
  budget_ms?: number;
}

/** Runs one "two workers, A measures" experiment: starts workers A and B on
 * `script`, waits until both are loaded, starts B then A, and resolves with
 * A's samples. Always terminates both workers; rejects on a worker error or
 * when the overall time limit passes (so a broken peer cannot hang). */
export async function runWorkerPair(spec: PairSpec): Promise<PeerResult> {
  const budget = spec.budget_ms ?? (spec.quick ? 10_000 : 30_000);
  const limit_ms = budget + 5_000;
  const workers = [0, 1].map(() => new Worker(spec.script, { type: "module" }));
  const [wa, wb] = workers;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await new Promise<PeerResult>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`peer ${spec.script.pathname}: no result after ${limit_ms} ms`)),
        limit_ms,
      );
      let ready = 0;
      const start = () => {
        wb.postMessage(
          {
            type: "init",
            role: "B",
            quick: spec.quick,
            budget_ms: budget + 2_000,
            ...spec.shared,
            ...spec.b?.init,
          },
          spec.b?.transfer ?? [],
        );
        wa.postMessage(
          {
            type: "init",
            role: "A",
            quick: spec.quick,
            budget_ms: budget,
            ...spec.shared,
            ...spec.a?.init,
          },
          spec.a?.transfer ?? [],
        );
      };
      for (const [w, role] of [[wa, "A"], [wb, "B"]] as const) {
        w.onmessage = (e: MessageEvent) => {
          const m = e.data;
          if (m?.type === "ready") {
            if (++ready === 2) start();
          } else if (m?.type === "result" && role === "A") {
            resolve({ samples_us: m.samples_us, n: m.n, batch: m.batch });
          } else if (m?.type === "error") {
            reject(new Error(`peer ${spec.script.pathname}: ${m.message}`));
          }
        };
        w.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          reject(new Error(`peer ${spec.script.pathname} worker ${role}: ${e.message}`));
        };
      }
    });
  } finally {
    clearTimeout(timer);
    for (const w of workers) w.terminate();
  }
}

const peer = (file: string) => new URL(`./peers/${file}`, import.meta.url);

/** Two workers ping-pong on one Int32 of a SharedArrayBuffer, both spinning. */
export function atomicsSpinRoundtrip(opts: PeerOpts): Promise<PeerResult> {
  return runWorkerPair({
    script: peer("atomics_spin_worker.ts"),
    quick: opts.quick,
    shared: { sab: new SharedArrayBuffer(64) },
  });
}

/** Same ping-pong, both sides blocking in Atomics.wait / waking with notify. */
export function atomicsWaitRoundtrip(opts: PeerOpts): Promise<PeerResult> {
  return runWorkerPair({
    script: peer("atomics_wait_worker.ts"),
    quick: opts.quick,
    shared: { sab: new SharedArrayBuffer(64) },
  });
}

/** A posts a 32-byte message to B over a MessageChannel, B replies. */
export function postMessageRoundtrip(opts: PeerOpts): Promise<PeerResult> {
  const { port1, port2 } = new MessageChannel();
  return runWorkerPair({
    script: peer("postmessage_worker.ts"),
    quick: opts.quick,
    a: { init: { port: port1 }, transfer: [port1] },
    b: { init: { port: port2 }, transfer: [port2] },
  });
}

/** 32-byte RPC (stub id + 32 bytes of arguments, 32 bytes back) between a client
 * worker and the server worker it starts, over worker.postMessage / self.postMessage. */
export function postMessageRpc32(opts: PeerOpts): Promise<PeerResult> {
  return runWorkerPair({
    script: peer("rpc32_worker.ts"),
    quick: opts.quick,
    shared: { transport: "worker" },
  });
}

/** The same RPC between two workers over the two ports of a MessageChannel. */
export function messageChannelRpc32(opts: PeerOpts): Promise<PeerResult> {
  const { port1, port2 } = new MessageChannel();
  return runWorkerPair({
    script: peer("rpc32_worker.ts"),
    quick: opts.quick,
    shared: { transport: "port" },
    a: { init: { port: port1 }, transfer: [port1] },
    b: { init: { port: port2 }, transfer: [port2] },
  });
}
