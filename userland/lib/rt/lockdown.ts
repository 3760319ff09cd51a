/**
 * The first module every process evaluates (the worker's stub imports it before the
 * runtime and the program). It keeps, for the runtime alone, the few host powers
 * the runtime needs, before the program can replace or take them.
 *
 * `endWorker` is the worker's own `close`: called from inside the worker it stops
 * its JavaScript at once (V8 terminates execution; no `catch` or `finally` runs) and
 * frees its thread. The kernel's `worker.terminate()` cannot: on Deno 2.9 it does
 * not stop a worker that is busy in JavaScript or blocked in `Atomics.wait`, and
 * such a worker keeps its thread and memory for the life of the host.
 */

const scope = globalThis as unknown as { close?: () => void };
const close: () => void = typeof scope.close === "function"
  ? scope.close.bind(globalThis)
  : () => {};

/** Ends this worker for good: the process has exited or was killed. */
export function endWorker(): never {
  close();
  // close() terminates execution before it returns; should a host ever return
  // from it, park for good, touching nothing.
  const park = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(park, 0, 0);
}
