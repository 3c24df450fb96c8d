/** Numbers as the tables print them, in the console and in the reports. */

/** A number for tables: 3 decimals below 100, 1 below 1000, none above; '—' when not finite. */
export function num(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  return x.toFixed(3);
}
