/**
 * Export, import and revoke (000 §4.1): a user's kernel call becomes ADDNAME,
 * LOOKUPNAME or DELETENAME on the node's name clerk, through the channel the clerk
 * attached with `clerk_attach`. Import yields a descriptor in the caller's
 * kernel-held table; every export carries a fresh generation.
 */

import { Errno } from "../abi/errors.ts";
import { Rights, RIGHTS_ALL, Trap } from "../abi/layout.ts";
import {
  CHANNEL_BYTES,
  LookupFlag,
  MAILBOX_BYTES,
  MAILBOX_SLOT_BYTES,
  MAX_NAME_BYTES,
  NameOp,
  REGISTRY_BYTES,
  WellKnown,
} from "../abi/names.ts";
import type { Kernel } from "../kernel.ts";
import { fail } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import { blankRecord, NameClient, type NameRecord } from "../remote/name_client.ts";
import { BLOCKED, type Handler, type Reply } from "../trap/dispatch.ts";
import { readDataString } from "./data.ts";

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
  return {
    name: checkName(String(v?.name ?? "")),
    nodes: list(v?.nodes, "nodes"),
    pids: list(v?.pids, "pids"),
  };
}

export function nameHandlers(k: Kernel): Record<string, Handler> {
  /** Posts a request to the clerk and blocks the caller until `finish` completes it. */
  const ask = (p: Process, r: NameRecord, finish: (a: NameRecord) => void): Reply => {
    // Blocked before the request is posted: the clerk, in another thread, may answer
    // at once, and the answer must find this very trap waiting for it.
    const blocked = { sysno: p.trap[Trap.SYSNO], cancel: () => cancel() };
    p.blocked = blocked;
    const cancel = k.askNames(r, (answer) => {
      if (p.state === "running" && p.blocked === blocked) finish(answer);
    });
    return BLOCKED;
  };

  return {
    export: (p, [segment, rights]) => {
      const req = parseExport(readDataString(p.trap));
      const seg = k.segments.get(segment);
      if (!seg) fail("EBADF", `no segment ${segment}`);
      const held = seg.holders.get(p.pid) ?? 0;
      const needs = (rights & Rights.READ ? Rights.READ : 0) |
        (rights & (Rights.WRITE | Rights.CAS) ? Rights.WRITE : 0);
      if (needs & ~held) fail("EPERM", `segment ${segment}: cannot grant rights ${rights}`);
      if (k.exports.byName(req.name)) fail("EEXIST", `"${req.name}" is already exported here`);
      const e = k.exports.add(seg, p.pid, req.name, rights & RIGHTS_ALL, req);
      const r = blankRecord(NameOp.ADD, req.name);
      Object.assign(r, {
        node: k.nodeId,
        exportId: e.id,
        genHi: e.genHi,
        genLo: e.genLo,
        rights: e.rights,
        size: seg.size,
      });
      return ask(p, r, (a) => {
        if (a.status !== 0) k.exports.remove(e.id);
        k.completeBlocked(
          p,
          a.status ? -1 : e.id,
          a.status,
          0,
          a.status ? "the name clerk refused" : "",
        );
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
      return ask(p, r, (a) => {
        if (a.status !== 0) {
          return k.completeBlocked(p, -1, a.status, 0, `no exported segment "${name}" found`);
        }
        const d = p.descriptors.add({
          name,
          node: a.node,
          exportId: a.exportId,
          genHi: a.genHi,
          genLo: a.genLo,
          rights: a.rights,
          size: a.size,
        });
        k.completeBlocked(p, d.id, 0, a.size);
      });
    },

    revoke: (p) => {
      const name = checkName(readDataString(p.trap));
      const e = k.exports.byName(name, p.pid);
      if (!e) fail("ENOENT", `the caller exports no "${name}"`);
      k.removeExport(e); // from now on the owner answers ESTALE; members are dropped
      return ask(p, blankRecord(NameOp.DELETE, name), (a) => {
        // The export is gone from the kernel either way; a clerk that never knew
        // the name (it refused the ADDNAME) has nothing to delete.
        const ok = a.status === 0 || a.status === Errno.ENOENT;
        k.completeBlocked(p, ok ? 0 : -1, ok ? 0 : a.status, 0, ok ? "" : "the name clerk failed");
      });
    },

    clerk_attach: (p, [registry, mailbox]) => {
      if (k.clerk && k.clerk.state === "running") fail("EBUSY", `pid ${k.clerk.pid} is the clerk`);
      // The clerk is a server init starts (or the node's host, in tests): never a user's program.
      if (p.ppid !== 0 && p.ppid !== 1) {
        fail("EPERM", "only a server started by init may be the clerk");
      }
      const held = (id: number, bytes: number, what: string) => {
        const seg = k.segments.get(id);
        if (!seg || !((seg.holders.get(p.pid) ?? 0) & Rights.WRITE)) {
          fail("EPERM", `the clerk must hold its ${what} segment ${id}`);
        }
        if (seg.size < bytes) fail("EINVAL", `a ${what} needs ${bytes} bytes`);
        return seg;
      };
      const reg = held(registry, REGISTRY_BYTES, "registry");
      const box = held(mailbox, MAILBOX_BYTES, "mailbox");
      k.exports.addWellKnown(WellKnown.REGISTRY, reg, p.pid, "names.registry", Rights.READ);
      k.exports.addWellKnown(
        WellKnown.MAILBOX,
        box,
        p.pid,
        "names.mailbox",
        Rights.READ | Rights.WRITE,
        MAILBOX_SLOT_BYTES,
      );
      const channel = k.createSegment(0, {
        size: CHANNEL_BYTES,
        mode: 0,
        unit: 0,
        notifyPolicy: 1,
      });
      channel.holders.delete(0);
      channel.holders.set(p.pid, Rights.READ | Rights.WRITE);
      const names = new NameClient(channel, (offset) => k.signalSegment(channel, offset));
      names.onInvalidate = (r) => k.invalidate(r.node, r.exportId, r.genHi, r.genLo);
      channel.kernelHandler = (offset) => names.onSignal(offset);
      k.attachNames(names, p);
      return channel.id;
    },
  };
}
