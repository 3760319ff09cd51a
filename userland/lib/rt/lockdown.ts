/**
 * The first module every process evaluates (the worker's stub imports it before the
 * runtime and the program). It keeps, for the runtime alone, the few host powers
 * the runtime needs, and takes away, before the program can reach them, the
 * worker's ways around the kernel that `permissions: "none"` leaves open:
 *
 * - `Deno.kill` (it signals any host process, the emulator's own included),
 *   `Deno.addSignalListener` (a listener for SIGINT keeps Ctrl-C from ending the
 *   host), `Deno.permissions.request` (it prompts on the host's terminal),
 *   `Deno.stdin`, `Deno.stdout`, `Deno.stderr` (the host's terminal, around the
 *   kernel's console), `Deno.args` and `Deno.cwd` (the host's command line, a
 *   node's `--secret` included, and its directory) and `Deno[Deno.internal]`
 *   (Deno's internals, with an op table);
 * - channels between workers of one host: `BroadcastChannel`, the Cache API
 *   (`caches`), Web Locks (`navigator.locks`), blob: URLs (`URL.createObjectURL`),
 *   nested `Worker`s, WebGPU (`navigator.gpu`);
 * - messages to the host: `postMessage`, and any `MessagePort`'s `postMessage` (the
 *   memory port is one-way: the kernel hands segments over it, a process never
 *   posts on it);
 * - the `process` global (Node's process object: kill, abort, stdin, stdout and
 *   `getBuiltinModule`).
 *
 * Node's built-in modules are kept from programs by the host's import map
 * (kernel/host/program_imports.json), npm: and remote modules by `--no-npm` and
 * `--no-remote`; see kernel/host/worker_host.ts.
 *
 * Outside a worker (a test importing the runtime) this module changes nothing.
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

/** Where a routed console prints: level 0-1 to stdout, 2 and up to stderr. */
export type PrintFunction = (text: string, level: number) => void;

type ConsoleClass = new (print: PrintFunction) => Record<string, unknown>;

const inWorker = "WorkerGlobalScope" in globalThis;
// deno-lint-ignore no-explicit-any
const D = Deno as any;
const internals = inWorker ? D[D.internal] : undefined;
const ConsoleImpl: ConsoleClass | undefined = typeof internals?.Console === "function"
  ? internals.Console
  : undefined;
const NotCapable = Deno.errors.NotCapable;
const listen = EventTarget.prototype.addEventListener;
const unlisten = EventTarget.prototype.removeEventListener;

/** A console whose every method prints through `print`, or null outside a process. */
export function routedConsole(print: PrintFunction): Record<string, unknown> | null {
  return ConsoleImpl ? new ConsoleImpl(print) : null;
}

let boot: Promise<unknown> | null = null;

/**
 * The kernel's boot message (the one message a process ever gets), or null outside
 * a process. Listened for here, before any other module evaluates.
 */
export function bootMessage(): Promise<unknown> | null {
  return boot;
}

function denied(what: string): () => never {
  return () => {
    throw new NotCapable(`${what} is not available to a process: it goes through the kernel`);
  };
}

/** Replaces `obj[key]` for good (or adds it): a value, or a getter that throws. */
function pin(obj: object, key: PropertyKey, value: unknown, asGetter = false): void {
  const d = Object.getOwnPropertyDescriptor(obj, key);
  if (d && !d.configurable) return;
  Object.defineProperty(
    obj,
    key,
    asGetter
      ? { get: value as () => unknown, configurable: false, enumerable: false }
      : { value, writable: false, configurable: false, enumerable: false },
  );
}

/** Removes a global (and makes it stay removed). */
function drop(obj: object, key: PropertyKey): void {
  const d = Object.getOwnPropertyDescriptor(obj, key);
  if (!d) return;
  if (!d.configurable) {
    if (d.writable) (obj as Record<PropertyKey, unknown>)[key] = undefined;
    return;
  }
  delete (obj as Record<PropertyKey, unknown>)[key];
  Object.defineProperty(obj, key, {
    value: undefined,
    writable: false,
    configurable: false,
    enumerable: false,
  });
}

/** Takes a navigator member (a getter on its prototype) away. */
function dropNavigator(key: string): void {
  const nav = (globalThis as { navigator?: object }).navigator;
  if (!nav) return;
  for (let o: object | null = nav; o; o = Object.getPrototypeOf(o)) {
    if (Object.getOwnPropertyDescriptor(o, key)) pin(o, key, () => undefined, true);
  }
}

function lockDown(): void {
  const g = globalThis as unknown as Record<string, unknown>;

  // The boot message, taken before the program can listen for it.
  boot = new Promise((resolve) => {
    const onBoot = (e: Event) => {
      unlisten.call(globalThis, "message", onBoot);
      resolve((e as MessageEvent).data);
    };
    listen.call(globalThis, "message", onBoot);
  });

  // The Deno namespace: the powers permissions "none" does not check.
  for (const key of ["kill", "addSignalListener", "removeSignalListener"]) {
    pin(Deno, key, denied(`Deno.${key}`));
  }
  for (const key of ["stdin", "stdout", "stderr"]) {
    pin(Deno, key, denied(`Deno.${key} (the host's terminal)`), true);
  }
  pin(Deno, "args", Object.freeze([]));
  pin(Deno, "cwd", denied("Deno.cwd (the host's directory)"));
  // A permission request prompts on the host's terminal (the tasks also pass
  // --no-prompt); a process holds no permission it could ask for.
  for (const perms of [Deno.permissions, Deno.Permissions?.prototype]) {
    if (!perms) continue;
    pin(perms, "request", denied("Deno.permissions.request"));
    pin(perms, "requestSync", denied("Deno.permissions.requestSync"));
  }
  drop(Deno, D.internal);

  // Messages out of the process: none. The memory port is one-way.
  pin(MessagePort.prototype, "postMessage", denied("posting a message"));
  drop(g, "postMessage");

  // Channels between the workers of one host.
  const bc = g.BroadcastChannel as { prototype: object } | undefined;
  if (bc) pin(bc.prototype, "postMessage", denied("BroadcastChannel"));
  const locks = g.LockManager as { prototype: object } | undefined;
  if (locks) {
    pin(locks.prototype, "request", denied("Web Locks"));
    pin(locks.prototype, "query", denied("Web Locks"));
  }
  pin(URL, "createObjectURL", denied("URL.createObjectURL (blob: URLs are host-wide)"));
  pin(URL, "revokeObjectURL", denied("URL.revokeObjectURL"));
  dropNavigator("locks");
  dropNavigator("gpu");
  for (
    const key of [
      "BroadcastChannel",
      "caches",
      "CacheStorage",
      "Cache",
      "Worker",
      "LockManager",
      "Lock",
      "process",
    ]
  ) drop(g, key);
  for (const key of Object.getOwnPropertyNames(g)) {
    if (key.startsWith("GPU")) drop(g, key);
  }
}

if (inWorker) lockDown();
