/** Reading raw cells: as a finite number, for a message, and sorting class labels and levels. */
import type { Cell } from './table.js';

/** A cell for a message: strings quoted (JSON-escaped, so one line), numbers as written. */
export function show(cell: Cell): string {
  return typeof cell === 'number' ? String(cell) : JSON.stringify(cell);
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A cell as a finite number, or undefined. Strings must look like decimal numbers ("12", "-3.5", "1e-3"). */
export function parseNumber(cell: Cell): number | undefined {
  if (typeof cell === 'number') return Number.isFinite(cell) ? cell : undefined;
  if (cell === null || !NUMBER.test(cell)) return undefined;
  const v = Number(cell);
  return Number.isFinite(v) ? v : undefined;
}

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
