/**
 * A raw channel: records in a message segment with no transport (see rpc.ts).
 */

import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import { PAGE_SIZE, SegUnit } from "../../../kernel/abi/layout.ts";
import { view32, write } from "../rt/mmu.ts";
import { SignalHandler } from "../rt/signals.ts";
import { LINE } from "./_rpc_wire.ts";

/**
 * A raw channel (001 §4: "a basic channel mechanism ... does not impose the
 * transport level overhead"): fixed-size records in a message segment, each
 * completed by the store of its last byte, with no checksum, acknowledgement or
 * retransmission. A record's last two words carry its sequence number and length,
 * so a receiver can see a gap; a lost or overwritten record is simply gone.
 *
 * A one-line record (the default) is all-or-none to a reader woken by its signal,
 * on this node and across nodes. A longer record in a
 * line-unit segment travels across nodes as one datagram per line, so under loss it
 * can arrive with some lines stale; use a page-unit segment with page-sized records
 * when records must be longer and whole.
 */
export class RawChannel {
  readonly base: number;
  readonly size: number;
  readonly recordBytes: number;
  readonly records: number;
  /** The segment's unit in bytes: where the signal of a record's completion arrives. */
  readonly #unit: number;
  #next = 0;
  readonly #buf: Uint8Array;
  readonly #words: Int32Array;

  /**
   * Uses the message segment bound at `base` (`size` bytes, unit `unit` as it was
   * created with), in records of `recordBytes`: a multiple of the unit.
   */
  constructor(base: number, size: number, recordBytes = LINE, unit: number = SegUnit.CACHE_LINE) {
    this.#unit = unit === SegUnit.PAGE ? PAGE_SIZE : LINE;
    if (recordBytes % this.#unit !== 0 || recordBytes === 0 || size % recordBytes !== 0) {
      throw new SysError(
        Errno.EINVAL,
        "RawChannel",
        `records of ${recordBytes} bytes in ${size}: a multiple of the unit, dividing the size`,
      );
    }
    this.base = base;
    this.size = size;
    this.recordBytes = recordBytes;
    this.records = size / recordBytes;
    this.#buf = new Uint8Array(recordBytes);
    this.#words = new Int32Array(this.#buf.buffer);
  }

  /** The largest record payload. */
  get maxPayload(): number {
    return this.recordBytes - 8;
  }

  /** Sends `data` as the next record (wrapping around). */
  send(data: Uint8Array): void {
    if (data.length > this.maxPayload) {
      throw new SysError(
        Errno.EMSGSIZE,
        "RawChannel.send",
        `${data.length} bytes exceed ${this.maxPayload}`,
      );
    }
    const seq = this.#next++;
    this.#buf.fill(0);
    this.#buf.set(data);
    const n = this.recordBytes / 4;
    this.#words[n - 2] = seq;
    this.#words[n - 1] = data.length;
    write(this.base + (seq % this.records) * this.recordBytes, this.#buf);
  }

  /**
   * Calls `fn(data, seq)` for every record completed in the channel. `data` aliases
   * the channel: copy it to keep it. A record is taken on the signal of its last unit.
   */
  listen(fn: (data: Uint8Array, seq: number) => void): void {
    const words = view32(this.base, this.size / 4);
    const bytes = new Uint8Array(words.buffer, words.byteOffset, this.size);
    const rb = this.recordBytes, unit = this.#unit;
    SignalHandler(this.base, this.size, (addr) => {
      const off = addr - this.base;
      const at = off - (off % rb);
      if (off !== at + rb - unit) return; // a unit inside the record, not its last
      const end = (at + rb) >> 2;
      const len = words[end - 1];
      if (len < 0 || len > this.maxPayload) return;
      fn(bytes.subarray(at, at + len), words[end - 2]);
    });
  }
}
