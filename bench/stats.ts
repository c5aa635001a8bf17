// Small statistics for benchmark rounds. Medians, not means: one GC pause or a neighbour's burst
// moves a mean, and the point of repeating a measurement is to see past such outliers.

/** The q-quantile (0..1) of `values` by linear interpolation; NaN for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Median, extremes and relative spread of repeated measurements of one figure. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median: how far apart the repetitions were. */
  spread: number;
  values: number[];
}

export function summarize(values: readonly number[]): Summary {
  const m = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: m, min, max, spread: m === 0 ? 0 : (max - min) / m, values: [...values] };
}

/** `a / b`, or NaN when b is 0. */
export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : a / b;
}

/** Rotates `items` left by `by`, so repetition r starts with a different variant (drift cancels out). */
export function rotate<T>(items: readonly T[], by: number): T[] {
  const k = ((by % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
