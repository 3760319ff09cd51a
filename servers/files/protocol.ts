/**
 * The file service's protocol, which lives in the library its clients use
 * (userland/lib/fs/protocol.ts): re-exported here, as every server keeps its
 * protocol beside it.
 */

export * from "../../userland/lib/fs/protocol.ts";
