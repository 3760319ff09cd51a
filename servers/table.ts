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

import { execName, memoryName } from "../userland/lib/mod.ts";
import { CACHE_AREA_NAMES, clerkService, FILES_SERVICE } from "./files/protocol.ts";

/** What a row may depend on besides the node's id: its `info("stats")` facts. */
export interface NodeFacts {
  /** The node's swap disk (`--swap`), or -1. */
  readonly swapDisk: number;
  /** The node's file system disk (boot's first `--disk`), or -1. */
  readonly fileDisk: number;
  /** The node that runs the cluster's memory server (`--memory-server`), or -1. */
  readonly memoryServerNode: number;
  /** The node whose file server mounts the cluster's file system, or -1. */
  readonly fileServerNode: number;
  /** How file clerks read the server (`--files-path`): "dx" or "hy". */
  readonly filesPath: string;
}

/** A node without a swap disk or a memory server (what `serversOn` assumes untold). */
export const PLAIN_NODE: NodeFacts = {
  swapDisk: -1,
  fileDisk: -1,
  memoryServerNode: -1,
  fileServerNode: -1,
  filesPath: "dx",
};

export interface ServerRow {
  /** What init calls it in its messages ("init: the name clerk ended: ..."). */
  readonly title: string;
  /** The module, from the project root. */
  readonly module: string;
  /** Its arguments: always these, or made from the node's facts. */
  readonly args: readonly string[] | ((node: number, facts: NodeFacts) => string[]);
  /** The nodes that run it: every node, these node ids, or those the test accepts. */
  readonly nodes: "all" | readonly number[] | ((node: number, facts: NodeFacts) => boolean);
  /** The name it exports when ready on a node, or null for none. */
  readonly name: ((node: number) => string) | null;
  /**
   * Other names only system servers may export on the node from its start on (as
   * `name` is): names its service's clients look up there, which a program must
   * not be able to export first.
   */
  readonly reserves?: readonly string[];
  /**
   * init starts it again every time it ends, with no fixed limit, unless it ended
   * `ends` times within `withinMs` (a crash loop): then init says plainly that the
   * node has lost it and stops starting it.
   */
  readonly crashLoop: { readonly ends: number; readonly withinMs: number };
}

/** The file server's names: its RPC service and its cache areas. */
const FILE_SERVICE_NAMES = [`rpc.${FILES_SERVICE}`, ...CACHE_AREA_NAMES];

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
  {
    title: "the memory server",
    module: "servers/memory/mod.ts",
    args: [],
    nodes: (node, f) => f.memoryServerNode === node,
    name: memoryName,
    crashLoop: { ends: 5, withinMs: 10_000 },
  },
  {
    title: "the swap pager",
    module: "servers/pager/mod.ts",
    args: [],
    nodes: (_node, f) => f.swapDisk >= 0,
    name: null,
    // A restarted one pages from then on; what the dead one held is lost (its
    // faults fail, naming it), as a swap device's contents are at a crash.
    crashLoop: { ends: 5, withinMs: 10_000 },
  },
  {
    title: "the file server",
    module: "servers/files/mod.ts",
    args: [],
    nodes: (_node, f) => f.fileDisk >= 0,
    name: () => `rpc.${FILES_SERVICE}`,
    reserves: FILE_SERVICE_NAMES,
    // A restarted one mounts again, replaying the journal: what was fsynced is there.
    crashLoop: { ends: 5, withinMs: 10_000 },
  },
  {
    title: "the file clerk",
    module: "servers/files/clerk.ts",
    args: (_node, f) => f.filesPath === "hy" ? ["hy"] : [],
    nodes: (_node, f) => f.fileServerNode >= 0,
    name: (node) => `rpc.${clerkService(node)}`,
    // A lookup finds a name on its own node first: the server's names are reserved
    // on every node, so no program can stand in for the server or its cache areas.
    reserves: FILE_SERVICE_NAMES,
    // It keeps nothing a restart loses: its callers' calls in flight fail (EIO) and
    // they call again.
    crashLoop: { ends: 5, withinMs: 10_000 },
  },
];

/** The rows that run on node `node`. */
export function serversOn(node: number, facts: NodeFacts = PLAIN_NODE): ServerRow[] {
  return SERVERS.filter((s) =>
    s.nodes === "all" ||
    (typeof s.nodes === "function" ? s.nodes(node, facts) : s.nodes.includes(node))
  );
}

/** The arguments a row's server is started with on node `node`. */
export function argsOf(row: ServerRow, node: number, facts: NodeFacts = PLAIN_NODE): string[] {
  return typeof row.args === "function" ? row.args(node, facts) : [...row.args];
}

/** The names a row's server is started with reserved on node `node`. */
export function reservedNames(row: ServerRow, node: number): string[] {
  const name = readyName(row, node);
  return [...new Set([...(name ? [name] : []), ...(row.reserves ?? [])])];
}

/** The name a row's server exports on node `node`, or null. */
export function readyName(row: ServerRow, node: number): string | null {
  return row.name === null ? null : row.name(node);
}
