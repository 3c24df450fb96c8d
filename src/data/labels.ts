/** Sorting class labels and one-hot levels (raw values themselves are read by model/cells.ts). */
import { parseNumber } from '../model/cells.js';

/** Sorts labels numerically when they all are numbers, else by UTF-16 code units (locale-independent). */
export function sortLabels(labels: string[]): string[] {
  const nums = labels.map((l) => parseNumber(l));
  if (nums.every((v) => v !== undefined)) {
    return labels.map((l, i) => [l, nums[i]!] as const).sort((a, b) => a[1] - b[1] || cmp(a[0], b[0])).map((p) => p[0]);
  }
  return labels.slice().sort(cmp);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
