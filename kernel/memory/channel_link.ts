/**
 * How a message segment reaches the other nodes that bind it (001 §3.2.3): the
 * record a segment keeps of its owner or its members. The engine that moves units
 * is kernel/remote/message_channels.ts; the segment only names its link.
 */

/** Names a segment at its owner: the export a node joined through. */
export interface ChannelKey {
  readonly node: number;
  readonly exportId: number;
  readonly genHi: number;
  readonly genLo: number;
}

/** A node that binds an owner's segment, through one of its exports. */
export interface Member {
  readonly node: number;
  /** The export it joined through: units to it carry this key. */
  readonly key: ChannelKey;
  readonly writable: boolean;
}

/** How a segment reaches the other nodes that bind it. */
export interface ChannelLink {
  /** At a replica: the owner's segment. Null at the owner. */
  readonly owner: ChannelKey | null;
  /** At the owner: the members, by "node:export" (a node may join through two exports). */
  readonly members: Map<string, Member>;
}
