// Pure statistics helpers for the bench harness. No I/O, no globals.

/** Median of `xs` (mean of the two middle values when the length is even).
 * Does not mutate `xs`. Returns NaN for an empty array. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Nearest-rank percentile: the smallest value such that at least `p`% of
 * `xs` are <= it, i.e. sorted[ceil(p/100 * N) - 1] (rank clamped to [1, N]).
 * `p` in [0, 100]; p = 0 gives the minimum, p = 100 the maximum.
 * Does not mutate `xs`. Returns NaN for an empty array. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be in [0,100], got ${p}`);
  const s = sorted(xs);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1];
}

export interface Summary {
  median_us: number;
  p99_us: number;
  min_us: number;
  max_us: number;
  mean_us: number;
  /** number of samples (batches) */
  samples: number;
  /** total number of operations measured */
  n: number;
}

/** Summarizes per-operation samples in µs (each one a batch mean) measured
 * over `n` operations in total. Pure; NaN fields for no samples. */
export function summarize(samples: readonly number[], n: number): Summary {
  const s = sorted(samples);
  const mean = s.length === 0 ? NaN : s.reduce((a, b) => a + b, 0) / s.length;
  return {
    median_us: median(s),
    p99_us: percentile(s, 99),
    min_us: s.length ? s[0] : NaN,
    max_us: s.length ? s[s.length - 1] : NaN,
    mean_us: mean,
    samples: s.length,
    n,
  };
}

function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}
