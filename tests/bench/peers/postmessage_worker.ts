// Raw peer (message passing): A posts a 32-byte message to B over a
// MessageChannel port, B posts it straight back; A times the round trips.
// Both sides sleep in the event loop between messages (no spinning).

import { DeadlineError, measureBatches, servePeer } from "./worker_common.ts";

const PAYLOAD_BYTES = 32;

servePeer({
  async A(init, deadline) {
    const port = init.port!;
    const msg = new Uint8Array(PAYLOAD_BYTES); // cloned, not transferred
    let fail: ((e: Error) => void) | null = null;
    const watchdog = setTimeout(
      () => fail?.(new DeadlineError("A waiting for B")),
      Math.max(0, deadline - performance.now()),
    );
    // One batch = k round trips chained from the reply handler (no per-trip promise).
    const batch = (k: number) =>
      new Promise<void>((resolve, reject) => {
        let left = k;
        fail = reject;
        port.onmessage = () => {
          if (--left === 0) resolve();
          else port.postMessage(msg);
        };
        port.postMessage(msg);
      });
    try {
      return await measureBatches(batch, init.quick, deadline);
    } finally {
      clearTimeout(watchdog);
      port.onmessage = null;
      port.postMessage("stop");
      port.close();
    }
  },

  B(init, deadline) {
    const port = init.port!;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new DeadlineError("B waiting for A")),
        Math.max(0, deadline - performance.now()),
      );
      port.onmessage = (e: MessageEvent) => {
        if (e.data === "stop") {
          clearTimeout(timer);
          port.close();
          resolve();
        } else {
          port.postMessage(e.data);
        }
      };
    });
  },
});
