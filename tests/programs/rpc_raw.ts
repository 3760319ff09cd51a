/**
 * Both ends of a raw channel (rpc.ts's RawChannel), reporting with {who}:
 *
 *   rpc_raw.ts WHO recv NAME RECORDS RECORD_BYTES N [page]
 *       creates a line-unit (or page-unit) message segment of RECORDS records, exports it as NAME,
 *       reports {ready}, and listens until N records came: {got: [{seq, digest}]}
 *   rpc_raw.ts WHO send NAME HINT RECORDS RECORD_BYTES N [page]
 *       imports NAME (looking on node HINT), attaches and binds it, and sends N
 *       records, record i being rpc_common.ts's rawRecord(i): {sent}
 */

import {
  attach,
  bind,
  CreateSegment,
  exportSegment,
  importSegment,
  Rights,
  SegMode,
  SegUnit,
  SigWait,
} from "../../userland/lib/mod.ts";
import { RawChannel } from "../../userland/lib/ipc/rpc.ts";
import { report } from "./report.ts";
import { digest, rawRecord } from "./rpc_common.ts";

export default function main(args: string[]): number {
  const [who, mode, name] = args;
  if (mode === "recv") {
    const [records, recordBytes, n] = args.slice(3, 6).map(Number);
    const unit = args[6] === "page" ? SegUnit.PAGE : SegUnit.CACHE_LINE;
    const size = records * recordBytes;
    const seg = CreateSegment(size, SegMode.MESSAGE, unit);
    const base = bind(seg);
    const ch = new RawChannel(base, size, recordBytes, unit);
    const got: { seq: number; digest: string }[] = [];
    ch.listen((data, seq) => got.push({ seq, digest: digest(data) }));
    exportSegment(seg, name, Rights.READ | Rights.WRITE);
    report({ who, ready: true, maxPayload: ch.maxPayload });
    const deadline = performance.now() + 10_000;
    while (got.length < n && performance.now() < deadline) SigWait(50);
    report({ who, got });
    return got.length === n ? 0 : 1;
  }
  const [hint, records, recordBytes, n] = args.slice(3, 7).map(Number);
  const unit = args[7] === "page" ? SegUnit.PAGE : SegUnit.CACHE_LINE;
  const size = records * recordBytes;
  const { desc } = importSegment(name, { hint });
  const base = bind(attach(desc), 0, Rights.READ | Rights.WRITE);
  const ch = new RawChannel(base, size, recordBytes, unit);
  for (let i = 0; i < n; i++) ch.send(rawRecord(i, ch.maxPayload));
  report({ who, sent: n });
  return 0;
}
