/**
 * The name service's memory layouts, for the name clerk (servers/names/) and for
 * tools that read registries: the same table the kernel uses (kernel/abi/names.ts).
 */

export {
  Answer,
  ANSWER_BYTES,
  Ask,
  CHANNEL_SLOT_BYTES,
  CHANNEL_SLOTS,
  Entry,
  ENTRY_BYTES,
  EntryState,
  LookupFlag,
  MAILBOX_BYTES,
  MAILBOX_SLOT_BYTES,
  MAX_NAME_BYTES,
  nameHash,
  NameOp,
  NO_HINT,
  NOTICE_OFFSET,
  NOTICE_SLOTS,
  REGISTRY_BYTES,
  REGISTRY_ENTRIES,
  Slot,
  SlotState,
  WellKnown,
} from "../../../kernel/abi/names.ts";
