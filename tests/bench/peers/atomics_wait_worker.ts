// Raw peer: like atomics_spin_worker.ts, but both sides block in Atomics.wait
// and wake each other with Atomics.notify (no spinning).
//
// Word protocol (Int32Array(sab)[0]): A stores odd s, B answers s + 1 with
// compareExchange, A's next request is s + 2. STOP (-1) ends B's loop; since
// STOP changes the word, a B about to wait sees "not-equal" (no lost wake-up).

import { DeadlineError, measureBatches, servePeer } from "./worker_common.ts";

const STOP = -1;

servePeer({
  async A(init, deadline) {
    const w = new Int32Array(init.sab!);
    let seq = 1;
    const batch = (k: number, dl: number) => {
      for (let i = 0; i < k; i++) {
        const want = seq + 1;
        Atomics.store(w, 0, seq);
        Atomics.notify(w, 0, 1);
        while (Atomics.load(w, 0) !== want) {
          const left = dl - performance.now();
          if (left <= 0) throw new DeadlineError("A waiting for B");
          Atomics.wait(w, 0, seq, left);
        }
        seq += 2;
      }
    };
    try {
      return await measureBatches(batch, init.quick, deadline);
    } finally {
      Atomics.store(w, 0, STOP);
      Atomics.notify(w, 0);
    }
  },

  B(init, deadline) {
    const w = new Int32Array(init.sab!);
    let expect = 1;
    for (;;) {
      const v = Atomics.load(w, 0);
      if (v === STOP) return;
      if (v === expect) {
        if (Atomics.compareExchange(w, 0, expect, expect + 1) !== expect) return; // STOP raced in
        Atomics.notify(w, 0, 1);
        expect += 2;
        continue;
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new DeadlineError("B waiting for A");
      Atomics.wait(w, 0, v, left);
    }
  },
});
