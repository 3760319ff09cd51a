/**
 * An RPC client driven by a script: `rpc_client.ts WHO STEPS_JSON`.
 *
 * Every RESULT line carries {who}. The first is {ctl}: a control segment the test
 * writes through the kernel's segment table; {op: "wait", word, value} waits until
 * control word `word` holds `value`. Then each step reports {step, op, ...}, or
 * {step, op, error: code, message} if it threw. Connections have labels (`c`,
 * default "c"); the test server's stubs are in rpc_common.ts.
 *
 *   {op: "connect", service, hint?, retransmitMs?, timeoutMs?, c?}   → {ms}
 *   {op: "echo", sizes, seed?, c?}         → {sizes, digest: [...]} the results' digests
 *                                          ("max" in sizes: RPC_MAX_PAYLOAD, "over":
 *                                          RPC_MAX_BYTES + 1)
 *   {op: "big", sizes, c?}                 BIG calls: long results → {digest: [...]}
 *   {op: "onewaybig", stub, size, c?}      one one-way call of pattern(size)
 *   {op: "async", sizes, big?, c?}         callAsync echoes (or BIG calls), all queued at once, and a
 *                                          one-way call while they are pending
 *                                          → {digest, oneWayWhilePending}
 *   {op: "inc", n, c?}                     → {values} the counter after each call
 *   {op: "call", stub, text?, c?}          → {len, text} or the error
 *   {op: "oneway", stub, values, c?}       one one-way call per u32 value
 *   {op: "stats", c?}                      → {stats} the client's transport counters
 *   {op: "server", c?}                     → the server's STATS
 *   {op: "timed", stub, c?}                a call expected to fail → {error, ms}
 *   {op: "corrupt", c, c2, size}           a call whose request is overwritten in the
 *                                          request channel before the server reads it
 *                                          (see corrupt() below) → {digest}
 *   {op: "kvput", n, keyBytes, c?}        n PUTs to the kv server, keys keyBytes long
 *   {op: "close", c?}
 */

import {
  bind,
  CreateSegment,
  getpid,
  info,
  read,
  SigWait,
  SysError,
  view32,
  write,
} from "../../userland/lib/mod.ts";
import { encodePut, KvStub } from "../../servers/kv/protocol.ts";
import {
  RPC_MAX_BYTES,
  RPC_MAX_PAYLOAD,
  RPC_SLOT_BYTES,
  RPC_SLOTS,
  RpcClient,
} from "../../userland/lib/ipc/rpc.ts";
import { report } from "./report.ts";
import { digest, hex, pattern, Stub } from "./rpc_common.ts";

type Step = Record<string, any>;

const ctl = CreateSegment(4096);
const ctlWords = view32(bind(ctl), 1024);
const clients = new Map<string, RpcClient>();

function u32(n: number): Uint8Array {
  const a = new Uint8Array(4);
  new DataView(a.buffer).setUint32(0, n, true);
  return a;
}

function client(s: Step): RpcClient {
  const c = clients.get(s.c ?? "c");
  if (!c) throw new Error(`no connection ${s.c ?? "c"}`);
  return c;
}

/** Waits (handling signals, never yielding to the event loop) for control word `word`. */
function waitWord(word: number, value: number): void {
  const deadline = performance.now() + 20_000;
  while (Atomics.load(ctlWords, word) !== value) {
    if (performance.now() > deadline) throw new Error(`control word ${word} never became ${value}`);
    SigWait(2);
  }
}

/**
 * The address of connection `c`'s request channel in this process, found as the
 * kernel sees it: the segment this process exported as "rpc.<node>.<pid>.<n>q",
 * bound writable here. With several connections, `nth` picks the nth such export.
 */
function requestChannel(nth: number): number {
  const mine = info("exports").filter((e: any) =>
    e.owner === getpid() && /^rpc\.\d+\.[0-9a-z]+\.[0-9a-z]+q$/.test(e.name)
  ).sort((a: any, b: any) => a.segment - b.segment);
  const seg = mine[nth]?.segment;
  const s = info("segs").find((x: any) => x.id === seg);
  const b = s?.bindings.find((x: any) => x.pid === getpid());
  if (!b) throw new Error(`no request channel #${nth} among ${JSON.stringify(mine)}`);
  return b.vaddr;
}

/**
 * A real overwrite of a message in flight (001 §4: "the checksum is calculated as
 * part of the unmarshaling copy so that it can safely detect an overwrite"):
 *
 * 1. a one-way HOLD on `c2` keeps the server in a procedure until the test lets go;
 * 2. an asynchronous ECHO on `c` is written into its slot (its signal queues behind);
 * 3. this process flips the bytes of one line of that message's payload in its own
 *    request channel (the client end binds it writable), found by its contents so
 *    that the slot's layout does not matter, and stores the rest of the slot again
 *    so that the change completes a unit and reaches a server on another node too;
 * 4. a one-way MARK on `c2` queues behind the ECHO's signal;
 * 5. the test releases HOLD; the server reads the overwritten ECHO (checksum
 *    mismatch: discarded, not executed) and MARK reports the count; the test then
 *    sets control word 1, and only now does this process yield to its event loop,
 *    where the library's timer retransmits the ECHO, which completes.
 */
async function corrupt(s: Step, who: string, step: number): Promise<Uint8Array> {
  const c = client(s), c2 = clients.get(s.c2)!;
  const data = pattern(s.size, 7);
  c2.oneWay(Stub.HOLD);
  const seq = c.stats.calls + 1; // this connection's sequence numbers start at 1
  const done = c.callAsync(Stub.ECHO, data);
  const slot = requestChannel(s.nth ?? 0) + (seq % RPC_SLOTS) * RPC_SLOT_BYTES;
  const image = read(slot, RPC_SLOT_BYTES);
  const first = hex(data.subarray(0, 32));
  let at = -1;
  for (let i = 0; i + 32 <= image.length && at < 0; i += 32) {
    if (hex(image.subarray(i, i + 32)) === first) at = i;
  }
  if (at < 0) throw new Error("the message's payload is not in its slot");
  const rest = image.slice(at);
  for (let i = 0; i < 32; i++) rest[i] ^= 0xff;
  write(slot + at, rest);
  c2.oneWay(Stub.MARK);
  report({ who, step, corrupted: true, at });
  waitWord(1, 1);
  return await done;
}

export default async function main(args: string[]): Promise<number> {
  const who = args[0];
  const steps: Step[] = JSON.parse(args[1]);
  report({ who, ctl });
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    const out: Record<string, unknown> = { who, step: i, op: s.op };
    const t0 = performance.now();
    try {
      switch (s.op) {
        case "connect": {
          const c = RpcClient.connect(s.service, {
            hint: s.hint,
            retransmitMs: s.retransmitMs,
            timeoutMs: s.timeoutMs,
          });
          clients.set(s.c ?? "c", c);
          out.ms = Math.round(performance.now() - t0);
          break;
        }
        case "echo": {
          const sizes = (s.sizes as (number | "max" | "over")[]).map((n) =>
            n === "max" ? RPC_MAX_PAYLOAD : n === "over" ? RPC_MAX_BYTES + 1 : n
          );
          out.sizes = sizes;
          out.digest = sizes.map((n) => digest(client(s).call(Stub.ECHO, pattern(n, s.seed ?? 0))));
          break;
        }
        case "big":
          out.digest = (s.sizes as number[]).map((n) => digest(client(s).call(Stub.BIG, u32(n))));
          break;
        case "onewaybig":
          client(s).oneWay(s.stub, pattern(s.size, 0));
          break;
        case "kvput":
          for (let k = 0; k < s.n; k++) {
            const key = `key${k}`.padEnd(s.keyBytes, "#");
            client(s).call(KvStub.PUT, encodePut(key, `value ${k}`));
          }
          break;
        case "async": {
          const c = client(s);
          const all = (s.sizes as number[]).map((n) =>
            s.big ? c.callAsync(Stub.BIG, u32(n)) : c.callAsync(Stub.ECHO, pattern(n, 3))
          );
          // Across nodes the replies can all come back at the safe points of the
          // calls' own traps: then nothing is pending any more, and the one-way goes.
          out.pendingAtOneWay = c.pending;
          try {
            c.oneWay(Stub.ECHO); // would overtake the pending calls
            out.oneWayWhilePending = "sent";
          } catch (e) {
            out.oneWayWhilePending = e instanceof SysError ? e.code : String(e);
          }
          out.digest = (await Promise.all(all)).map(digest);
          break;
        }
        case "inc": {
          const values: number[] = [];
          for (let k = 0; k < s.n; k++) {
            const r = client(s).call(Stub.INC);
            values.push(new DataView(r.buffer, r.byteOffset, 4).getUint32(0, true));
          }
          out.values = values;
          break;
        }
        case "call": {
          const r = client(s).call(s.stub, new TextEncoder().encode(s.text ?? ""));
          out.len = r.length;
          out.text = new TextDecoder().decode(r);
          break;
        }
        case "oneway":
          for (const v of s.values as number[]) {
            const a = new Uint8Array(4);
            new DataView(a.buffer).setUint32(0, v, true);
            client(s).oneWay(s.stub, a);
          }
          break;
        case "stats":
          out.stats = { ...client(s).stats };
          break;
        case "server":
          out.server = JSON.parse(new TextDecoder().decode(client(s).call(Stub.STATS)));
          break;
        case "timed":
          try {
            client(s).call(s.stub);
            out.returned = true;
          } catch (e) {
            if (!(e instanceof SysError)) throw e;
            out.error = e.code;
            out.message = e.message;
          }
          out.ms = Math.round(performance.now() - t0);
          break;
        case "wait":
          waitWord(s.word, s.value);
          break;
        case "corrupt":
          out.digest = digest(await corrupt(s, who, i));
          break;
        case "close":
          client(s).close();
          break;
        default:
          throw new Error(`unknown step ${s.op}`);
      }
    } catch (e) {
      out.error = e instanceof SysError ? e.code : String(e);
      out.message = (e as Error).message;
    }
    report(out);
  }
  return 0;
}
