// The documented path of the kv protocol, which now lives beside its server.
export * from "../../servers/kv/protocol.ts";
