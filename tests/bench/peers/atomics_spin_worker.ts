// Raw peer: two workers ping-pong on one Int32 word of a SharedArrayBuffer,
// both busy-spinning with Atomics.load (no Atomics.wait). The physical floor.
//
// Word protocol (Int32Array(sab)[0]): A stores odd s, B answers s + 1 with
// compareExchange, A's next request is s + 2. STOP (-1) ends B's loop.

import { DeadlineError, measureBatches, servePeer } from "./worker_common.ts";

const STOP = -1;
const CHECK_EVERY = 4096; // spins between deadline checks

servePeer({
  async A(init, deadline) {
    const w = new Int32Array(init.sab!);
    let seq = 1;
    const batch = (k: number, dl: number) => {
      for (let i = 0; i < k; i++) {
        const want = seq + 1;
        Atomics.store(w, 0, seq);
        let spins = 0;
        while (Atomics.load(w, 0) !== want) {
          if (++spins === CHECK_EVERY) {
            spins = 0;
            if (performance.now() > dl) throw new DeadlineError("A waiting for B");
          }
        }
        seq += 2;
      }
    };
    try {
      return await measureBatches(batch, init.quick, deadline);
    } finally {
      Atomics.store(w, 0, STOP); // B stops spinning whatever happened here
    }
  },

  B(init, deadline) {
    const w = new Int32Array(init.sab!);
    let expect = 1;
    let spins = 0;
    for (;;) {
      const v = Atomics.load(w, 0);
      if (v === expect) {
        if (Atomics.compareExchange(w, 0, expect, expect + 1) !== expect) return; // STOP raced in
        expect += 2;
      } else if (v === STOP) {
        return;
      } else if (++spins === CHECK_EVERY) {
        spins = 0;
        if (performance.now() > deadline) throw new DeadlineError("B waiting for A");
      }
    }
  },
});
