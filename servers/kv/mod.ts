/**
 * The key-value server: string keys and values in this process's memory, served by
 * RPC (userland/lib/ipc/rpc.ts, 001 §4) under the service name "kv" (or the first
 * argument). It is built only on userland/lib; its client is userland/programs/kv.ts.
 *
 *   run servers/kv/mod.ts [SERVICE] &       (from the shell; `on NODE servers/kv/mod.ts`
 *                                            starts it on another node)
 *
 * Stubs and formats (protocol.ts beside this file has the constants and the marshalling;
 * integers little-endian, strings UTF-8, keys 1–64 bytes, values up to 1950 bytes):
 *
 *   GET   = 1   key                          → [u8 found] value
 *   PUT   = 2   [u16 keyLen] key value       → [u8 replaced]
 *   DEL   = 3   key                          → [u8 existed]
 *   LIST  = 4   key to list after (or empty) → [u16 count] [u8 more] count × ([u16 len] key)
 *   STATS = 5   -                            → JSON {keys, bytes, rpc}
 *
 * A malformed request throws in its procedure: the client's call fails with EIO and
 * the message. SIGTERM ends the server (its well-known channel is revoked).
 */

import {
  checkKey,
  decodePut,
  decodeText,
  encodeListPage,
  encodeText,
  KV_SERVICE,
  KvStub,
} from "./protocol.ts";
import {
  args,
  nodeId,
  println,
  type Procedure,
  RpcServer,
  Sig,
  signalAddress,
  SignalHandler,
  SysError,
} from "../../userland/lib/mod.ts";

export default function main(): number {
  const service = args()[0] ?? KV_SERVICE;
  const store = new Map<string, Uint8Array>();
  let bytes = 0;
  /** The server, for STATS (set once it exists). */
  const self: { server?: RpcServer } = {};

  const keyOf = (raw: Uint8Array): string => {
    checkKey(raw);
    return decodeText(raw);
  };

  const procedures: Record<number, Procedure> = {
    [KvStub.GET]: (a, reply) => {
      const value = store.get(keyOf(a));
      if (!value) {
        reply[0] = 0;
        return 1;
      }
      reply[0] = 1;
      reply.set(value, 1);
      return 1 + value.length;
    },
    [KvStub.PUT]: (a, reply) => {
      const { key, value } = decodePut(a);
      const k = decodeText(key);
      const old = store.get(k);
      bytes += value.length - (old?.length ?? 0);
      store.set(k, value.slice()); // `a` aliases the server's buffer: keep a copy
      reply[0] = old ? 1 : 0;
      return 1;
    },
    [KvStub.DEL]: (a, reply) => {
      const k = keyOf(a);
      const old = store.get(k);
      if (old) bytes -= old.length;
      reply[0] = store.delete(k) ? 1 : 0;
      return 1;
    },
    [KvStub.LIST]: (a, reply) => {
      const after = decodeText(a);
      const keys = [...store.keys()].filter((k) => k > after).sort();
      return encodeListPage(keys, reply);
    },
    [KvStub.STATS]: (_a, reply) => {
      const json = encodeText(JSON.stringify({ keys: store.size, bytes, rpc: self.server!.stats }));
      reply.set(json);
      return json.length;
    },
  };

  let server: RpcServer;
  try {
    // Exports rpc.SERVICE: while the node's name clerk is still starting, the kernel
    // holds the export until it has attached.
    server = self.server = new RpcServer(service, procedures);
  } catch (e) {
    if (!(e instanceof SysError) || e.code !== "EEXIST") throw e;
    println(`kv: a server "${service}" already runs on node ${nodeId()}`);
    return 1;
  }
  let running = true;
  SignalHandler(signalAddress(Sig.SIGTERM), 4, () => running = false);
  println(`kv: serving "${service}" on node ${nodeId()}`);
  server.serve(() => !running);
  server.close();
  return 0;
}
