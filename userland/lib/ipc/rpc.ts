/**
 * Remote procedure call on memory-based messaging (001 §4), entirely in the
 * process: the kernel only moves memory and signals.
 *
 * A connection is two message segments that signal on page ends only (001 §3.3:
 * the receiver picks the unit): requests flow client → server in one, replies
 * server → client in the other. Each holds RPC_SLOTS one-page slots; message `seq`
 * uses slot `seq % RPC_SLOTS`, written as one run of stores that ends at the page's
 * last byte, so every message costs exactly one signal (at the slot's first byte)
 * and, across nodes, one datagram:
 *
 *   slot + 4064 − padded   payload, `len` bytes, padded to whole lines
 *   slot + 4064            trailer (the last line): seq, stub, len, checksum,
 *                          kind, rest, 0, MAGIC
 *
 * Arguments and results longer than one slot's payload (RPC_MAX_PAYLOAD, 4,064
 * bytes) go in pieces, each a message of its own with its own sequence number, so
 * retransmission and duplicate suppression cover every piece: the client sends
 * the arguments but the last part as PIECE messages, each acknowledged by an empty
 * REPLY, then the CALL with the last part; a reply whose `rest` is not 0 has that
 * many bytes to come, which the client asks for with MORE messages, each answered
 * by the next part. One piece is in flight at a time (stop-and-wait). A call and
 * its result are at most RPC_MAX_BYTES (16 MiB) each.
 *
 * First contact goes through the server's well-known channel, a message segment
 * exported as `rpc.<service>` that any client may write (001 §4: "similar to the
 * well-known multicast addresses"). A client exports its two segments under names
 * derived from (node, pid, connection) and writes a one-line CONNECT into a slot of
 * the well-known channel; the server imports and attaches them (the same call for
 * a local or a remote segment: a remote one becomes a replica, and every line
 * travels as a datagram), binds them, and answers ACCEPT.
 *
 * The transport is the paper's: a checksum over the message (computed in the same
 * pass as the unmarshalling copy into private memory, so a message overwritten
 * while it is being read is caught), retransmission by timer when no reply came,
 * and duplicate suppression at the server (at-most-once: a retransmitted call is
 * answered from the cached reply, never executed twice). The timer costs nothing
 * on the normal path: a synchronous call looks at the clock only when a wait ran
 * out; asynchronous calls are reviewed by an interval timer while any is pending.
 * One-way calls (no reply) and a raw channel without any transport are there for
 * traffic that does not need reliability.
 *
 * @example
 * ```ts
 * const server = new RpcServer("kv", { 1: (args, reply) => { reply.set(args); return args.length } });
 * server.serve(() => false); // forever
 * // elsewhere:
 * const c = RpcClient.connect("kv", { hint: 0 });
 * const echoed = c.call(1, new TextEncoder().encode("hello"));
 * ```
 */

export {
  type Procedure,
  RPC_MAX_BYTES,
  RPC_MAX_PAYLOAD,
  RPC_SLOT_BYTES,
  RPC_SLOTS,
  type RpcCaller,
  RpcKind,
  type RpcOptions,
  type RpcStats,
  sequenceAfter,
} from "./_rpc_wire.ts";
export { RpcClient } from "./rpc_client.ts";
export { RpcServer } from "./rpc_server.ts";
export { RawChannel } from "./raw_channel.ts";
