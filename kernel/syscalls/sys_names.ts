/**
 * Export, import and revoke (000 §4.1): a user's kernel call becomes ADDNAME,
 * LOOKUPNAME or DELETENAME on the node's name clerk, through the channel the clerk
 * attached with `clerk_attach`. Import yields a descriptor in the caller's
 * kernel-held table; every export carries a fresh generation.
 */

import { Errno } from "../abi/errors.ts";
import { Cap, NotifyPolicy, Rights, RIGHTS_ALL } from "../abi/layout.ts";
import {
  CHANNEL_BYTES,
  LookupFlag,
  MAILBOX_BYTES,
  MAX_NAME_BYTES,
  NameOp,
  REGISTRY_BYTES,
  WellKnown,
} from "../abi/names.ts";
import type { NodeParts } from "../parts.ts";
import { fail } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import { blankRecord, NameClient, type NameRecord } from "../remote/name_client.ts";
import { NAMES_SERVICE } from "../remote/name_service.ts";
import { readDataString } from "../trap/data_area.ts";
import { BLOCKED, type Reply } from "../trap/dispatch.ts";
import type { Handlers } from "../trap/trap_entry.ts";
import type { TrapWait } from "../trap/trap_wait.ts";

const encoder = new TextEncoder();

/** Checks a name: 1 to 32 bytes of UTF-8. */
function checkName(name: string): string {
  const n = encoder.encode(name).length;
  if (n === 0 || n > MAX_NAME_BYTES) {
    fail("EINVAL", `a name is 1 to ${MAX_NAME_BYTES} bytes, not ${n}`);
  }
  return name;
}

interface ExportRequest {
  name: string;
  nodes: number[] | null;
  pids: number[] | null;
  /** A descriptor: export to the process that exported it alone (its node and pid). */
  peer: number | null;
}

function parseExport(text: string): ExportRequest {
  let v: any;
  try {
    v = JSON.parse(text);
  } catch {
    fail("EINVAL", "export request is not JSON");
  }
  const list = (x: unknown, what: string): number[] | null => {
    if (x === undefined || x === null) return null;
    if (!Array.isArray(x) || !x.every((n) => Number.isInteger(n) && n >= 0)) {
      fail("EINVAL", `export: ${what} must be a list of numbers`);
    }
    return x;
  };
  const peer = v?.peer ?? null;
  if (peer !== null && !(Number.isInteger(peer) && peer > 0)) {
    fail("EINVAL", `export: peer must be a descriptor, not ${JSON.stringify(peer)}`);
  }
  const r = {
    name: checkName(String(v?.name ?? "")),
    nodes: list(v?.nodes, "nodes"),
    pids: list(v?.pids, "pids"),
    peer,
  };
  if (peer !== null && (r.nodes || r.pids)) {
    fail("EINVAL", "export: peer names the one node and pid: give no nodes or pids with it");
  }
  return r;
}

export function nameHandlers(
  n: NodeParts,
): Handlers<"export" | "import" | "revoke" | "clerk_attach"> {
  /**
   * Posts a request to the clerk and blocks the caller until `finish` completes it
   * (through the TrapWait it is handed); a caller that dies first takes no answer.
   */
  const ask = (
    p: Process,
    r: NameRecord,
    finish: (a: NameRecord, w: TrapWait) => void,
  ): Reply => {
    // Blocked before the request is posted: the clerk, in another thread, may answer
    // at once, and the answer must find this very trap waiting for it.
    let cancel = () => {};
    const w = n.traps.block(p, { onCancel: () => cancel() });
    cancel = n.nameService.ask(r, (answer) => {
      if (w.pending) finish(answer, w);
    });
    return BLOCKED;
  };

  /**
   * The one node and pid an export with `peer` is for: the process that exported
   * what descriptor `id` names, as its kernel vouches for it (a local export's owner,
   * or the owner a remote kernel named when the descriptor was attached), never a
   * pid a peer wrote into shared memory.
   */
  const peerOf = (p: Process, id: number): { nodes: number[]; pids: number[] } => {
    const d = p.descriptors.get(id);
    if (!d) fail("EBADF", `export: no descriptor ${id} to name the peer`);
    let owner = d.owner;
    if (d.node === n.nodeId) {
      const e = n.exports.get(d.exportId);
      if (e && e.genHi === d.genHi && e.genLo === d.genLo) owner = e.owner;
      else fail("ESTALE", `export: descriptor ${id} (${d.name}) is revoked`);
    }
    if (owner === undefined) {
      fail("EINVAL", `export: descriptor ${id} (${d.name}) names no known owner: attach it first`);
    }
    return { nodes: [d.node], pids: [owner] };
  };

  return {
    export: (p, [segment, rights]) => {
      const req = parseExport(readDataString(p.trap));
      const seg = n.segments.get(segment);
      if (!seg) fail("EBADF", `no segment ${segment}`);
      if (seg.driverOnly) fail("EPERM", `segment ${segment} is a device's: it cannot be exported`);
      const held = seg.holders.get(p.pid) ?? 0;
      const needs = (rights & Rights.READ ? Rights.READ : 0) |
        (rights & (Rights.WRITE | Rights.CAS) ? Rights.WRITE : 0);
      if (needs & ~held) fail("EPERM", `segment ${segment}: cannot grant rights ${rights}`);
      if (n.exports.byName(req.name)) fail("EEXIST", `"${req.name}" is already exported here`);
      const service = (p.caps & Cap.SERVICE) !== 0;
      if (!service && n.exports.reservedForServices(req.name)) {
        fail(
          "EPERM",
          `"${req.name}" is a system server's name on this node: only a server init starts ` +
            "may export it",
        );
      }
      const only = req.peer === null ? req : peerOf(p, req.peer);
      const e = n.exports.add(seg, p.pid, req.name, rights & RIGHTS_ALL, only);
      const r = blankRecord(NameOp.ADD, req.name);
      Object.assign(r, {
        node: n.nodeId,
        exportId: e.id,
        genHi: e.genHi,
        genLo: e.genLo,
        rights: e.rights,
        size: seg.size,
      });
      return ask(p, r, (a, w) => {
        if (a.status === 0) {
          if (service) n.exports.reserveForServices(req.name);
          return void w.complete(e.id);
        }
        n.exports.remove(e.id);
        w.fail(a.status, "the name clerk refused");
      });
    },

    import: (p, [hint, flags]) => {
      const name = checkName(readDataString(p.trap));
      if (flags & ~(LookupFlag.FORCE_REMOTE | LookupFlag.BY_NOTIFY)) {
        fail("EINVAL", `import flags ${flags}`);
      }
      const r = blankRecord(NameOp.LOOKUP, name);
      r.hint = hint;
      r.flags = flags;
      return ask(p, r, (a, w) => {
        if (a.status !== 0) return void w.fail(a.status, `no exported segment "${name}" found`);
        const d = p.descriptors.add({
          name,
          node: a.node,
          exportId: a.exportId,
          genHi: a.genHi,
          genLo: a.genLo,
          rights: a.rights,
          size: a.size,
        });
        w.complete(d.id, a.size);
      });
    },

    revoke: (p) => {
      const name = checkName(readDataString(p.trap));
      const e = n.exports.byName(name, p.pid);
      if (!e) fail("ENOENT", `the caller exports no "${name}"`);
      n.removeExport(e); // from now on the owner answers ESTALE; members are dropped
      return ask(p, blankRecord(NameOp.DELETE, name), (a, w) => {
        // The export is gone from the kernel either way; a clerk that never knew
        // the name (it refused the ADDNAME) has nothing to delete.
        if (a.status === 0 || a.status === Errno.ENOENT) w.complete(0);
        else w.fail(a.status, "the name clerk failed");
      });
    },

    clerk_attach: (p, [registry, mailbox]) => {
      n.services.checkAttach(NAMES_SERVICE, p);
      const held = (id: number, bytes: number, what: string) => {
        const seg = n.segments.get(id);
        if (!seg || seg.driverOnly || !((seg.holders.get(p.pid) ?? 0) & Rights.WRITE)) {
          fail("EPERM", `the clerk must hold its ${what} segment ${id}`);
        }
        if (seg.size < bytes) fail("EINVAL", `a ${what} needs ${bytes} bytes`);
        return seg;
      };
      const reg = held(registry, REGISTRY_BYTES, "registry");
      const box = held(mailbox, MAILBOX_BYTES, "mailbox");
      const attrs = { size: CHANNEL_BYTES, mode: 0, unit: 0, notifyPolicy: NotifyPolicy.NEVER };
      const channel = n.segments.create(0, attrs, 0);
      n.exports.addWellKnown(WellKnown.REGISTRY, reg, p.pid);
      n.exports.addWellKnown(WellKnown.MAILBOX, box, p.pid);
      n.segments.grant(channel, p.pid, Rights.READ | Rights.WRITE);
      const client = new NameClient(channel, (offset) => n.signals.signalSegment(channel, offset));
      client.onInvalidate = (r) => n.procs.invalidate(r.node, r.exportId, r.genHi, r.genLo);
      channel.kernelHandler = (offset) => client.onSignal(offset);
      n.services.attach(NAMES_SERVICE, p, n.nameService);
      n.nameService.attach(client);
      return channel.id;
    },
  };
}
