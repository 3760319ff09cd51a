/**
 * The servers every node's init starts, in this order, one row each: adding a server
 * is a folder in servers/ and a row here, never a change to init
 * (userland/programs/init.ts).
 *
 * Each runs with the service capability (Cap.SERVICE) init hands it at spawn: only
 * these servers may attach as the node's kernel services (the name clerk's role).
 *
 * init starts every row at once and goes on to the shell or program: it never waits
 * for a server, so it keeps reaping (and restarting a server that died) meanwhile.
 * A server is ready when it has exported its `name`, and a client waits for that
 * name with a deadline (`waitForName` in userland/lib). The name clerk exports no
 * name of its own: until it has attached, the kernel holds every name request (an
 * export too), so no server needs to wait for it.
 */

import { execName } from "../userland/lib/mod.ts";

export interface ServerRow {
  /** What init calls it in its messages ("init: the name clerk ended: ..."). */
  readonly title: string;
  /** The module, from the project root. */
  readonly module: string;
  readonly args: readonly string[];
  /** The nodes that run it: every node, or these node ids. */
  readonly nodes: "all" | readonly number[];
  /** The name it exports when ready on a node, or null for none. */
  readonly name: ((node: number) => string) | null;
  /**
   * init starts it again every time it ends, with no fixed limit, unless it ended
   * `ends` times within `withinMs` (a crash loop): then init says plainly that the
   * node has lost it and stops starting it.
   */
  readonly crashLoop: { readonly ends: number; readonly withinMs: number };
}

export const SERVERS: readonly ServerRow[] = [
  {
    title: "the name clerk",
    module: "servers/names/mod.ts",
    args: [],
    nodes: "all",
    name: null,
    // A dead clerk is started again (the kernel re-posts the node's exports to it).
    crashLoop: { ends: 5, withinMs: 10_000 },
  },
  {
    title: "the exec server",
    module: "servers/exec/mod.ts",
    args: [],
    nodes: "all",
    name: execName,
    // Its export fails (EIO) if the clerk dies while it is being made: start it again.
    crashLoop: { ends: 5, withinMs: 10_000 },
  },
];

/** The rows that run on node `node`. */
export function serversOn(node: number): ServerRow[] {
  return SERVERS.filter((s) => s.nodes === "all" || s.nodes.includes(node));
}

/** The name a row's server exports on node `node`, or null. */
export function readyName(row: ServerRow, node: number): string | null {
  return row.name === null ? null : row.name(node);
}
