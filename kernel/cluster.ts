/**
 * Several nodes in one Deno process, joined by an emulated network. They share the
 * host thread's trap service (one loop scans every node's processes and polls the
 * network's delayed frames), and nothing else: each node has its own kernel,
 * processes, segments, exports and name clerk.
 */

import type { Console, ProcessHost } from "./host_interface.ts";
import { Kernel, type KernelConfig } from "./kernel.ts";
import { EmulatedNetwork, type LinkConfig } from "./net/emulated_network.ts";
import { TrapService } from "./trap/trap_service.ts";

export interface ClusterOptions {
  nodes: number;
  /** Configuration shared by every node (nodeId is set per node). */
  config?: Partial<KernelConfig>;
  /** What differs on node `id` (a memory server's node with more frames, say). */
  perNode?: (id: number) => Partial<KernelConfig>;
  /** The default link between any two nodes. */
  link?: Partial<LinkConfig>;
  /** Seed of the network's loss generator. */
  seed?: number;
}

export class Cluster {
  readonly network: EmulatedNetwork;
  readonly trapService: TrapService;
  readonly nodes: Kernel[] = [];
  readonly #boot: (id: number) => Kernel;

  constructor(host: ProcessHost, console: Console, opts: ClusterOptions) {
    if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > 64) {
      throw new RangeError(`a cluster has 1 to 64 nodes, not ${opts.nodes}`);
    }
    const config = opts.config ?? {};
    this.trapService = new TrapService(config.spinUs ?? 50, host.clock);
    this.network = new EmulatedNetwork(host.clock, opts.link, opts.seed);
    this.trapService.addPoller(() => this.network.poll() > 0);
    this.#boot = (id) => {
      const own = { ...config, ...opts.perNode?.(id), nodeId: id };
      const k = new Kernel(host, console, own, this.trapService);
      const receive = k.nic.attach({
        send: (to, bytes) => this.network.send(id, to, bytes),
        reachable: (node) => this.network.attached(node),
        backlog: (node) => this.network.backlog(id, node),
      });
      this.network.attach(id, receive);
      return k;
    };
    for (let id = 0; id < opts.nodes; id++) this.nodes.push(this.#boot(id));
    for (const k of this.nodes) for (const peer of this.nodes) k.watch(peer.nodeId);
    this.trapService.start();
  }

  /** Stops one node as a crash would: its processes die and its frames are lost. */
  crash(id: number): void {
    this.network.detach(id);
    this.nodes[id].halt();
  }

  /**
   * Boots a crashed node again: a new kernel with a new incarnation, so everything
   * it exports carries generations no one has seen. Returns the new kernel.
   */
  restart(id: number): Kernel {
    if (!this.nodes[id].halted) this.crash(id);
    const k = this.#boot(id);
    this.nodes[id] = k;
    for (const peer of this.nodes) {
      k.watch(peer.nodeId);
      peer.watch(id);
    }
    return k;
  }

  /** Halts every node. */
  halt(): void {
    for (const k of this.nodes) k.halt();
    this.network.close();
    this.trapService.stop();
  }
}
