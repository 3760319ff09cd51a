/**
 * An echo (or no-op) server on endpoints and the event queue (002 §5.3): one
 * thread, every connection, each request answered from the event that announced it.
 *
 *   servers/echo/mod.ts [SERVICE] [--noop]
 *
 * Echoes each request, or with --noop answers with an empty message. Serves the
 * service "echo" by default until SIGTERM.
 */

import { EventServer, println, Sig, signalAddress, SignalHandler } from "../../userland/lib/mod.ts";

const EMPTY = new Uint8Array(0);

export default function main(args: string[]): number {
  const noop = args.includes("--noop");
  const service = args.find((a) => !a.startsWith("--")) ?? "echo";
  let running = true;
  SignalHandler(signalAddress(Sig.SIGTERM), 4, () => running = false);
  const server = new EventServer(service, (end, msg) => {
    end.send(noop ? EMPTY : msg, 1_000);
  });
  println(`echo: serving "${service}"${noop ? " (no-op)" : ""}`);
  server.serve(() => !running);
  println(`echo: served ${server.served} requests on ${server.connections} connections`); // still open
  return 0;
}
