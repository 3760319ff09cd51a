/**
 * Message segments bound on several nodes (001 §3.2.3): "an update generated at one
 * node can be simply transmitted as a datagram to the set of nodes that also bind
 * the affected shared segment".
 *
 * The segment lives on its owner. Another node binds it by importing its name and
 * attaching the descriptor: its kernel sends JOIN, the owner checks it like any
 * request (export, generation, node and pid, READ right) and records the node as a
 * member; the joining node then keeps a replica, a local segment of the same size,
 * mode and unit. Every completed unit (a 32-byte line, or a page) on any node travels
 * as one UNIT frame: a replica sends it to the owner, the owner deposits it and sends
 * it on to every other member. Each receiving kernel deposits the whole unit at once
 * and signals the handlers on it, exactly as a local completion would.
 *
 * A member leaves when its replica is freed (LEAVE), when the export it joined
 * through dies (revoked, or its segment freed), and when the owner gets a unit's
 * answer that it has no such replica (a LEAVE too: the member restarted, or its
 * LEAVE was lost). A member whose node goes down is only suspended: the owner
 * sends it nothing, but a loss spike can make a live node look down, so the
 * membership comes back as soon as the node is up again (the owner's next unit
 * for the segment finds it up) or sends a unit itself. A restarted node keeps no
 * replica, answers the first unit it gets with LEAVE and is forgotten.
 * Every attach is checked by the owner, for each process. A replica starts zeroed:
 * units completed before it joined are not replayed (a multicast group's rule).
 *
 * Best effort by design: no acknowledgement, no retransmission, no ordering beyond
 * the link's. A lost unit is lost whole; a unit is never deposited in part, so a
 * reader never sees a torn line. Reliability is the business of the protocols built
 * on top (userland/lib/ipc/rpc.ts), as the paper argues.
 *
 * Nothing from the network is trusted: the owner takes units only from members
 * whose export allows writing, a replica only from its owner, and a unit must be
 * exactly one aligned unit inside the segment.
 */

import { Errno } from "../abi/errors.ts";
import { Access, NotifyPolicy, Rights, SegMode, SegUnit, unitBytes } from "../abi/layout.ts";
import type { TripwireTable } from "./tripwires.ts";
import type { Segment } from "../memory/segment.ts";
import type { SegmentTable } from "../memory/segment_table.ts";
import type { NetworkInterface } from "../net/nic.ts";
import type { Tracer } from "../trace.ts";
import { loadBytes, storeBytes, supplyRange } from "../memory/segment_access.ts";
import { FrameType } from "../net/wire.ts";
import { buildFrame, decodeBody, type Frame } from "./memory_frames.ts";
import type { Process } from "../proc/process.ts";
import type { ChannelKey, Member } from "../memory/channel_link.ts";
import type { Descriptor } from "./descriptor_table.ts";
import type { Export, ExportTable } from "./export_table.ts";
import type { RemoteMemory } from "./remote_memory.ts";

function memberKey(node: number, exportId: number): string {
  return `${node}:${exportId}`;
}

/** What the channel engine needs from its kernel. */
export interface ChannelHost {
  readonly nodeId: number;
  readonly exports: ExportTable;
  readonly remote: RemoteMemory;
  readonly nic: NetworkInterface;
  readonly segments: SegmentTable;
  readonly tripwires: TripwireTable;
  readonly tracer: Tracer;
  nodeDown(node: number): boolean;
  signalSegment(seg: Segment, offset: number): number;
  refreshDirectory(seg: Segment): void;
}

export interface ChannelStats {
  /** Units this node sent (each copy counts). */
  sent: number;
  /** Units deposited here from the network. */
  received: number;
  /** Units the owner passed on to other members. */
  forwarded: number;
  /** Units refused: unknown segment, not a member, malformed. */
  refused: number;
}

function keyOf(node: number, exportId: number, genHi: number, genLo: number): string {
  return `${node}:${exportId}:${genHi}:${genLo}`;
}

export class MessageChannels {
  readonly stats: ChannelStats = { sent: 0, received: 0, forwarded: 0, refused: 0 };
  readonly #host: ChannelHost;
  /** Replicas on this node, by the owner's key. */
  readonly #replicas = new Map<string, Segment>();
  /** Replicas being joined (a JOIN not yet answered), by the owner's key. */
  readonly #joining = new Map<string, number>();
  /**
   * At the owner: members suspended because their node looked down, by segment
   * (as members are keyed); `#suspensions` counts them, so the unit path looks
   * only when there are any.
   */
  readonly #suspended = new Map<Segment, Map<string, Member>>();
  #suspensions = 0;

  constructor(host: ChannelHost) {
    this.#host = host;
    host.nic.register(FrameType.UNIT, decodeBody, (f) => this.receive(f));
    host.nic.register(FrameType.LEAVE, decodeBody, (f) => this.leave(f));
  }

  // -------------------------------------------------------------------------
  // Binding across nodes

  /**
   * Makes the message segment a descriptor names bindable on this node for `p`:
   * the segment itself when it is local, else a replica (joining the owner first).
   * `done` gets the segment, or an errno.
   */
  attach(p: Process, d: Descriptor, done: (errno: number, seg: Segment | null) => void): void {
    const host = this.#host;
    if (d.node === host.nodeId) {
      // The owner's own checks, as a JOIN from this node and pid would get them.
      const e = host.exports.get(d.exportId);
      if (!e || e.genHi !== d.genHi || e.genLo !== d.genLo) return done(Errno.ESTALE, null);
      if (e.segment.mode === SegMode.NORMAL) return done(Errno.EINVAL, null);
      if (e.nodes && !e.nodes.includes(host.nodeId)) return done(Errno.EPERM, null);
      if (e.pids && !e.pids.includes(p.pid)) return done(Errno.EPERM, null);
      d.owner = e.owner;
      return done(0, e.segment);
    }
    // Every attach asks the owner, even when this node has the replica already: the
    // owner decides for each process (its export may name pids).
    const key = keyOf(d.node, d.exportId, d.genHi, d.genLo);
    this.#joining.set(key, (this.#joining.get(key) ?? 0) + 1);
    const joined = () => {
      const n = this.#joining.get(key)! - 1;
      if (n === 0) this.#joining.delete(key);
      else this.#joining.set(key, n);
    };
    try {
      this.#issueJoin(p, d, key, joined, done);
    } catch (e) {
      joined();
      throw e;
    }
  }

  #issueJoin(
    p: Process,
    d: Descriptor,
    key: string,
    joined: () => void,
    done: (errno: number, seg: Segment | null) => void,
  ): void {
    const host = this.#host;
    host.remote.issue(
      FrameType.JOIN,
      d,
      { offset: 0, count: 0, notify: false },
      {
        proc: p,
        descId: d.id,
        local: null,
        localOffset: 0,
        notify: false,
        done: (errno, f) => {
          joined();
          if (errno !== 0 || !f) return done(errno || Errno.EIO, null);
          const mode = f.arg0, unit = f.arg1;
          const valid = (mode === SegMode.MESSAGE || mode === SegMode.MESSAGE_QUIET) &&
            (unit === SegUnit.CACHE_LINE || unit === SegUnit.PAGE);
          if (!valid) return done(Errno.EIO, null);
          d.owner = f.srcPid; // the owner's kernel names the exporter in its reply
          const known = this.#replicas.get(key);
          if (known) return done(0, known);
          let seg: Segment;
          try {
            // Held by no one yet: the attach grants the descriptor's rights.
            const attrs = { size: d.size, mode, unit, notifyPolicy: NotifyPolicy.NEVER };
            seg = host.segments.create(p.pid, attrs, 0);
          } catch {
            return done(Errno.ENOMEM, null);
          }
          seg.channel = {
            owner: { node: d.node, exportId: d.exportId, genHi: d.genHi, genLo: d.genLo },
            members: new Map(),
          };
          this.#replicas.set(key, seg);
          host.tracer.trace("remote", `replica of ${key} is segment ${seg.id}`);
          done(0, seg);
        },
      },
    );
  }

  /** At the owner: takes a checked JOIN. Returns 0 or an errno for the NACK. */
  join(f: Frame, e: Export): number {
    const seg = e.segment;
    if (seg.mode === SegMode.NORMAL) return Errno.EINVAL;
    if (!seg.channel) seg.channel = { owner: null, members: new Map() };
    if (seg.channel.owner) return Errno.EINVAL; // a replica is not re-exported
    seg.channel.members.set(memberKey(f.srcNode, e.id), {
      node: f.srcNode,
      key: { node: this.#host.nodeId, exportId: e.id, genHi: e.genHi, genLo: e.genLo },
      writable: (e.rights & Rights.WRITE) !== 0,
    });
    this.#host.refreshDirectory(seg); // senders now hand completed units to the kernel
    this.#host.tracer.trace("remote", `node ${f.srcNode} binds segment ${seg.id}`);
    return 0;
  }

  /** At the owner: a member's replica is gone (LEAVE); never throws. */
  leave(f: Frame): void {
    const e = this.#host.exports.get(f.exportId);
    const c = e?.segment.channel;
    if (!e || !c || e.genHi !== f.genHi || e.genLo !== f.genLo) return;
    const key = memberKey(f.srcNode, e.id);
    this.#unsuspend(e.segment, key);
    if (c.members.delete(key)) this.#host.refreshDirectory(e.segment);
  }

  /** At the owner: an export died (revoked, or its segment freed): its members go. */
  dropExport(e: Export): void {
    this.#dropMembers(e.segment, (m) => m.key.exportId === e.id, false);
  }

  /**
   * At the owner: a node went down (or restarted): it is sent nothing while it is
   * down. Its memberships are suspended, not dropped: a live node can look down
   * (a loss spike), and one that restarted answers its first unit with LEAVE.
   */
  dropNode(node: number, segments: Iterable<Segment>): void {
    for (const seg of segments) this.#dropMembers(seg, (m) => m.node === node, true);
  }

  #dropMembers(seg: Segment, which: (m: Member) => boolean, suspend: boolean): void {
    const c = seg.channel;
    if (!c || c.owner) return;
    let dropped = false;
    for (const [k, m] of c.members) {
      if (!which(m)) continue;
      dropped = c.members.delete(k) || dropped;
      if (!suspend) continue;
      let held = this.#suspended.get(seg);
      if (!held) this.#suspended.set(seg, held = new Map());
      if (!held.has(k)) this.#suspensions++;
      held.set(k, m);
    }
    const held = this.#suspended.get(seg);
    if (!suspend && held) {
      for (const [k, m] of held) if (which(m)) this.#unsuspend(seg, k);
    }
    if (dropped) this.#host.refreshDirectory(seg);
  }

  /** Forgets a suspended membership; returns it. */
  #unsuspend(seg: Segment, key: string): Member | undefined {
    const held = this.#suspended.get(seg);
    const m = held?.get(key);
    if (!m) return undefined;
    held!.delete(key);
    this.#suspensions--;
    if (held!.size === 0) this.#suspended.delete(seg);
    return m;
  }

  /** At the owner: suspended members of `seg` whose node is up (or `node`) are members again. */
  #resume(seg: Segment, node = -1): void {
    const held = this.#suspended.get(seg);
    if (!held) return;
    let back = false;
    for (const [k, m] of held) {
      if (m.node !== node && this.#host.nodeDown(m.node)) continue;
      this.#unsuspend(seg, k);
      seg.channel!.members.set(k, m);
      this.#host.tracer.trace("remote", `node ${m.node} binds segment ${seg.id} again`);
      back = true;
    }
    if (back) this.#host.refreshDirectory(seg);
  }

  /** A segment is being freed: a replica is forgotten and its owner told (LEAVE). */
  forget(seg: Segment): void {
    const held = this.#suspended.get(seg);
    if (held) {
      this.#suspensions -= held.size;
      this.#suspended.delete(seg);
    }
    const owner = seg.channel?.owner;
    const key = owner && keyOf(owner.node, owner.exportId, owner.genHi, owner.genLo);
    if (!owner || this.#replicas.get(key!) !== seg) return;
    this.#replicas.delete(key!);
    if (this.#host.nodeDown(owner.node)) return;
    this.#sendLeave(owner);
  }

  /** Tells an owner this node binds its segment no more. */
  #sendLeave(owner: ChannelKey): void {
    const { exportId, genHi, genLo } = owner;
    const me = this.#host.nodeId;
    this.#host.nic.send(
      owner.node,
      buildFrame(
        FrameType.LEAVE,
        me,
        owner.node,
        0,
        0,
        exportId,
        genHi,
        genLo,
        0,
        0,
        0,
        0,
        0,
        undefined,
      ),
    );
  }

  /** True if completed units of `seg` must travel. */
  linked(seg: Segment): boolean {
    const c = seg.channel;
    return c !== null && (c.owner !== null || c.members.size > 0);
  }

  // -------------------------------------------------------------------------
  // Units

  /** Sends the completed unit at `offset` (unit-aligned) to the other nodes. */
  send(seg: Segment, offset: number): void {
    const c = seg.channel;
    if (!c) return;
    const size = unitBytes(seg.unit);
    if (!supplyRange(seg, offset, size)) return;
    const payload = loadBytes(seg, offset, size);
    if (c.owner) this.#sendUnit(c.owner.node, c.owner, offset, payload);
    else {
      if (this.#suspensions !== 0) this.#resume(seg);
      for (const m of c.members.values()) this.#sendUnit(m.node, m.key, offset, payload);
    }
  }

  #sendUnit(to: number, key: ChannelKey, offset: number, payload: Uint8Array): void {
    if (this.#host.nodeDown(to)) return;
    const { exportId, genHi, genLo } = key;
    const n = payload.length;
    const me = this.#host.nodeId;
    this.stats.sent++;
    this.#host.nic.send(
      to,
      buildFrame(
        FrameType.UNIT,
        me,
        to,
        0,
        0,
        exportId,
        genHi,
        genLo,
        offset,
        n,
        0,
        key.node,
        0,
        payload,
      ),
    );
  }

  /** Takes a UNIT frame (already checked for integrity and addressing); never throws. */
  receive(f: Frame): void {
    const host = this.#host;
    let seg: Segment | undefined;
    if (f.arg0 === host.nodeId) {
      // At the owner: from a member allowed to write, through the export it joined,
      // while the export is not write-inhibited.
      const e = host.exports.get(f.exportId);
      // A unit from a suspended member says its node is alive: it is a member again.
      if (this.#suspensions !== 0 && e) this.#resume(e.segment, f.srcNode);
      const m = e?.segment.channel?.members.get(memberKey(f.srcNode, f.exportId));
      if (!e || e.genHi !== f.genHi || e.genLo !== f.genLo || !m || !m.writable) {
        return this.#refuse(f, "not a writing member");
      }
      if (e.inhibited) return this.#refuse(f, "write-inhibited");
      seg = e.segment;
    } else {
      // At a replica: only from its owner.
      seg = this.#replicas.get(keyOf(f.arg0, f.exportId, f.genHi, f.genLo));
      if (f.srcNode !== f.arg0) return this.#refuse(f, "not from its owner");
      if (!seg) {
        // Units can overtake the answer to our JOIN (a lost answer is sent again):
        // while a JOIN is out, the unit is only refused.
        const key = keyOf(f.arg0, f.exportId, f.genHi, f.genLo);
        if (this.#joining.has(key)) return this.#refuse(f, "replica not joined yet");
        // The owner thinks this node binds the segment (we restarted, or our LEAVE
        // was lost): say it again, so it stops sending.
        this.#sendLeave({ node: f.srcNode, exportId: f.exportId, genHi: f.genHi, genLo: f.genLo });
        return this.#refuse(f, "no replica");
      }
    }
    const size = unitBytes(seg.unit);
    if (f.count !== size || f.offset % size !== 0 || f.offset + size > seg.size) {
      return this.#refuse(f, "not one unit");
    }
    if (!supplyRange(seg, f.offset, size)) return this.#refuse(f, "pager refused");
    storeBytes(seg, f.offset, f.payload);
    this.stats.received++;
    host.tripwires.matchLocal(seg.id, f.offset, size, Access.WRITE);
    if (seg.mode === SegMode.MESSAGE) host.signalSegment(seg, f.offset);
    const c = seg.channel!;
    if (!c.owner) {
      for (const m of c.members.values()) {
        if (m.node === f.srcNode) continue;
        this.stats.forwarded++;
        this.#sendUnit(m.node, m.key, f.offset, f.payload);
      }
    }
  }

  #refuse(f: Frame, why: string): void {
    this.stats.refused++;
    this.#host.tracer.trace(
      "remote",
      `refused a unit from node ${f.srcNode} at ${f.offset}: ${why}`,
    );
  }
}
