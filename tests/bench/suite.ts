// Types shared by every bench suite.

/** One measured case. `samples_us` are per-operation times in µs; each sample
 * is the mean over a batch of operations (worker timers have ~2 µs resolution,
 * so single sub-µs operations cannot be timed). `n` is the total number of
 * operations measured across all samples. */
export interface CaseResult {
  name: string;
  samples_us: number[];
  n: number;
  ops_per_s?: number;
  mb_per_s?: number;
  /** A server's CPU per operation (the files suite: see README `### files`). */
  server_cpu_us?: number;
  note?: string;
}

/** A named group of cases. `run` measures its cases one after another. */
export interface Suite {
  name: string;
  description: string;
  run(opts: { quick: boolean }): Promise<CaseResult[]>;
}
