/**
 * A segment's signal directory: the emulated cache directory's processor bits
 * (001 §3.1.2). For every process with a handler on part of the segment it lists
 * [pid, first offset, end offset). The kernel rewrites it under a seqlock whenever a
 * binding or a handler changes; on the hardware path a sender reads it to decide
 * which FIFOs get a signal, with no trap.
 */

import { Directory, DIRECTORY_BYTES, DIRECTORY_MAX_ENTRIES } from "../abi/layout.ts";

export interface DirectoryEntry {
  pid: number;
  first: number;
  end: number;
}

export class SignalDirectory {
  readonly buffer = new SharedArrayBuffer(DIRECTORY_BYTES);
  readonly #w = new Int32Array(this.buffer);

  /**
   * Replaces the entries. More than DIRECTORY_MAX_ENTRIES are not truncated: COUNT
   * becomes -1 and senders take the software path for this segment.
   */
  publish(entries: readonly DirectoryEntry[], network = false): void {
    const w = this.#w;
    const fits = entries.length <= DIRECTORY_MAX_ENTRIES;
    const n = fits ? entries.length : 0;
    Atomics.add(w, Directory.VERSION, 1); // odd: writing
    for (let i = 0; i < n; i++) {
      const at = Directory.ENTRIES + i * 3;
      Atomics.store(w, at, entries[i].pid);
      Atomics.store(w, at + 1, entries[i].first);
      Atomics.store(w, at + 2, entries[i].end);
    }
    Atomics.store(w, Directory.COUNT, fits ? n : -1);
    Atomics.store(w, Directory.NETWORK, network ? 1 : 0);
    Atomics.add(w, Directory.VERSION, 1); // even: stable
  }
}
