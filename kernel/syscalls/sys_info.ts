/**
 * The `info` system call: the kernel's tables as JSON, for `ps`, `segs` and `stats`.
 * The answer is cached at offset 0 and read in data-area-sized chunks, so a long
 * table is never truncated.
 */

import { InfoKind } from "../abi/syscalls.ts";
import { SIGNAL_NAMES } from "../abi/layout.ts";
import type { NodeParts } from "../parts.ts";
import type { Handlers } from "../trap/trap_entry.ts";
import type { Process } from "../proc/process.ts";
import { writeDataChunk } from "../trap/data_area.ts";

const encoder = new TextEncoder();

/** Builds the JSON-able answer for one kind of `info`. */
export function infoSnapshot(k: NodeParts, p: Process, kind: number): unknown {
  switch (kind) {
    case InfoKind.PS:
      return [...k.procs.values()].map((q) => ({
        pid: q.pid,
        ppid: q.ppid,
        state: q.state,
        module: shortModule(q.module),
        args: q.args,
        traps: q.counters.traps,
        pagefaults: q.counters.pagefaults,
        protfaults: q.counters.protfaults,
        bindings: q.space.bindings.length,
        resident: q.space.residentPages(),
        evictions: q.counters.evictions,
        handlers: q.handlers.size,
        signalsPending: q.fifo.pending(),
        signalsDropped: q.fifo.dropped(),
      }));
    case InfoKind.SEGS:
      return [...k.segments.values()].map((s) => ({
        id: s.id,
        size: s.size,
        mode: s.mode,
        unit: s.unit,
        notifyPolicy: s.notifyPolicy,
        generation: s.generation,
        resident: s.residentPages(),
        creator: s.creator,
        holders: [...s.holders.keys()],
        bindings: [...s.bindings].map((b) => ({ pid: b.pid, vaddr: b.vaddr, rights: b.rights })),
      }));
    case InfoKind.NODES:
      return [
        { node: k.nodeId, self: true, up: true, incarnation: k.exports.incarnation },
        ...[...k.detector.peers.values()].map((peer) => ({
          node: peer.node,
          self: false,
          up: !k.nodeDown(peer.node),
          incarnation: peer.incarnation,
          heardMsAgo: Math.round(k.clock.now() - peer.lastHeard),
        })),
      ];
    case InfoKind.EXPORTS:
      return k.exports.all().map((e) => ({
        id: e.id,
        name: e.name,
        segment: e.segment.id,
        size: e.segment.size,
        owner: e.owner,
        rights: e.rights,
        generation: `${e.genHi.toString(16)}:${e.genLo}`,
        inhibited: e.inhibited,
        wellKnown: e.wellKnown,
      }));
    case InfoKind.DESCRIPTORS:
      return p.descriptors.all().map((d) => ({
        desc: d.id,
        name: d.name,
        node: d.node,
        exportId: d.exportId,
        size: d.size,
        rights: d.rights,
        owner: d.owner ?? -1,
        state: d.stale ? "stale" : k.nodeDown(d.node) ? "host down" : "ok",
      }));
    case InfoKind.STATS:
      return {
        node: k.config.nodeId,
        ...k.stats,
        processes: k.procs.size,
        segments: k.segments.size,
        segmentsRetained: k.segments.counts().retained,
        descriptorsOpen: k.procs.descriptorsOpen,
        wakeups: k.trapService.wakeups,
        remoteIssued: k.remote.stats.issued,
        remoteServed: k.remote.stats.served,
        remoteErrors: k.remote.stats.errors,
        framesMalformed: k.nic.stats.malformed,
        pageFrames: k.segments.frames.total,
        pageFramesUsed: k.segments.frames.used,
        pageFramesFree: k.segments.frames.free,
        evictions: k.pagers.counts.evicted,
        swapDisk: k.disks.swapUnit,
        fileDisk: k.disks.filesUnit,
        swapPager: k.pagers.swapPager,
        memoryServerNode: k.config.memoryServerNode,
        fileServerNode: k.config.fileServerNode,
        filesPath: k.config.filesPath,
        kernelBusyUs: k.traps.meter ? Math.round(k.traps.meter.ms * 1000) : -1,
      };
    default:
      return {
        pid: p.pid,
        ...p.counters,
        signalsDropped: p.fifo.dropped(),
        resident: p.space.residentPages(),
        pageTableBytes: p.space.pageTable.bytes(),
        cpuUs: Math.round(p.handle?.cpuUs?.() ?? -1),
        signalNames: SIGNAL_NAMES,
      };
  }
}

/** Shortens a module URL to its path below the project, for display. */
function shortModule(url: string): string {
  const i = url.lastIndexOf("/userland/");
  const j = url.lastIndexOf("/servers/");
  const at = Math.max(i, j);
  return at >= 0 ? url.slice(at + 1) : url.replace(/^file:\/\//, "");
}

export function infoHandlers(k: NodeParts): Handlers<"info"> {
  return {
    info: (p, [kind, offset]) => {
      // Encoded once per snapshot, so reading it chunk by chunk stays linear.
      if (offset === 0) p.infoCache = encoder.encode(JSON.stringify(infoSnapshot(k, p, kind)));
      const bytes = p.infoCache;
      const n = writeDataChunk(p.trap, bytes, offset);
      return { result: n, result2: bytes.length };
    },
  };
}
