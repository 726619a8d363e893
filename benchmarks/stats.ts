// What every benchmark here reports with: nearest-rank percentiles, medians of runs, table cells
// "median (min–max)", ratios, and the machine's CPU pressure.
import { readFileSync } from 'node:fs';

/** Nearest-rank percentile of sorted values (NaN for none). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Median of the finite values (NaN for none). */
export function median(values: readonly number[]): number {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

/** `1,234.5` with exactly `digits` decimals, `n/a` for NaN. */
export function format(value: number, digits: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A table cell: the median of the runs, with min–max when there are several. */
export function cell(values: number[], digits: number): string {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return 'n/a';
  const mid = format(median(finite), digits);
  if (finite.length < 2) return mid;
  return `${mid} (${format(Math.min(...finite), digits)}–${format(Math.max(...finite), digits)})`;
}

/** `a / b` as `1.23×`, or '' when either is not a positive number. */
export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || a <= 0 || b <= 0) return '';
  return `${(a / b).toFixed(2)}×`;
}

/** Microseconds some task waited for a CPU since boot (Linux PSI), or undefined without PSI. */
export function cpuPressureUs(): number | undefined {
  try {
    const match = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
