// Raw peer (message passing): a 32-byte RPC between two workers, the peer of 001
// §5.2's "Send, Recv 32 bytes" (Table 4). The client marshals a stub id and 32
// bytes of arguments into a request (cloned, not transferred), the server
// unmarshals them into its own memory, runs a trivial procedure and replies with
// 32 bytes, which the client unmarshals before it makes the next call.
//
// Two transports (init.transport):
//   "port"    A and B each hold one port of a MessageChannel (../peers.ts).
//   "worker"  A starts the server as its own child worker and talks to it with
//             worker.postMessage / self.postMessage; the pair's B has no part.

import { DeadlineError, measureBatches, type PeerInit, servePeer } from "./worker_common.ts";

const ARG_BYTES = 32;
const STUB = 7; // the one procedure the server exports

interface RpcInit extends PeerInit {
  transport: "port" | "worker";
  /** set in the init A sends its child server ("worker" transport) */
  child?: boolean;
}

/** Either end of a message channel: a MessagePort, a Worker, or a worker's own scope. */
interface Endpoint {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(msg: unknown): void;
}

interface Request {
  stub: number;
  args: Uint8Array;
}

interface Reply {
  stub: number;
  result: Uint8Array;
}

/** The client: k calls per batch, each chained from the previous reply. */
async function client(end: Endpoint, quick: boolean, deadline: number) {
  const callerArgs = new Uint8Array(ARG_BYTES); // the caller's arguments
  const request: Request = { stub: STUB, args: new Uint8Array(ARG_BYTES) };
  const out = new Uint8Array(ARG_BYTES); // where the caller gets its result
  let seq = 0;
  let fail: ((e: Error) => void) | null = null;
  const watchdog = setTimeout(
    () => fail?.(new DeadlineError("client waiting for server")),
    Math.max(0, deadline - performance.now()),
  );
  const call = () => {
    callerArgs[0] = ++seq & 0xff;
    request.args.set(callerArgs); // marshal
    end.postMessage(request); // the structured clone copies the bytes
  };
  const batch = (k: number) =>
    new Promise<void>((resolve, reject) => {
      let left = k;
      fail = reject;
      end.onmessage = (e: MessageEvent) => {
        const r = e.data as Reply;
        if (r?.stub !== STUB) return reject(new Error(`bad reply ${JSON.stringify(e.data)}`));
        out.set(r.result); // unmarshal
        if (out[0] !== ((callerArgs[0] + 1) & 0xff)) return reject(new Error("wrong result"));
        if (--left === 0) resolve();
        else call();
      };
      call();
    });
  try {
    return await measureBatches(batch, quick, deadline);
  } finally {
    clearTimeout(watchdog);
    end.onmessage = null;
    end.postMessage("stop");
  }
}

/** The server: unmarshal into private memory, call the procedure, reply. */
function server(end: Endpoint, deadline: number): Promise<void> {
  const mem = new Uint8Array(ARG_BYTES); // the server's private copy of the arguments
  const reply: Reply = { stub: STUB, result: new Uint8Array(ARG_BYTES) };
  const procedure = (args: Uint8Array, result: Uint8Array) => {
    for (let i = 0; i < ARG_BYTES; i++) result[i] = args[i] + 1;
  };
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new DeadlineError("server waiting for client")),
      Math.max(0, deadline - performance.now()),
    );
    end.onmessage = (e: MessageEvent) => {
      const m = e.data as Request | "stop";
      if (m === "stop") {
        clearTimeout(timer);
        end.onmessage = null;
        resolve();
      } else if (m.stub === STUB) {
        mem.set(m.args); // unmarshal
        procedure(mem, reply.result);
        end.postMessage(reply);
      } else {
        reject(new Error(`no stub ${m.stub}`));
      }
    };
  });
}

/** Starts this module as A's child server and resolves once it is listening. */
function startChild(init: RpcInit, deadline: number): Promise<Worker> {
  const w = new Worker(import.meta.url, { type: "module" });
  return new Promise<Worker>((resolve, reject) => {
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      reject(new Error(`child server: ${e.message}`));
    };
    w.onmessage = (e: MessageEvent) => {
      if (e.data?.type !== "ready") return;
      w.onmessage = null;
      const child: RpcInit = {
        ...init,
        role: "B",
        child: true,
        budget_ms: deadline - performance.now() + 2_000,
      };
      w.postMessage(child);
      resolve(w); // messages are ordered: the init arrives before the first request
    };
  });
}

servePeer({
  async A(peerInit, deadline) {
    const init = peerInit as RpcInit;
    if (init.transport === "port") {
      try {
        return await client(init.port!, init.quick, deadline);
      } finally {
        init.port!.close();
      }
    }
    const w = await startChild(init, deadline);
    try {
      return await client(w, init.quick, deadline);
    } finally {
      w.terminate();
    }
  },

  async B(peerInit, deadline) {
    const init = peerInit as RpcInit;
    if (init.child) return server(globalThis as unknown as Endpoint, deadline);
    if (init.transport !== "port") return; // "worker": A's child serves, not this one
    try {
      await server(init.port!, deadline);
    } finally {
      init.port!.close();
    }
  },
});
