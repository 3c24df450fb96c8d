/**
 * Sizes checked before allocating: a config whose buffers cannot fit in this
 * machine's memory is refused with one line saying how much it needs, instead
 * of ending after seconds and gigabytes in an allocation failure.
 */
import { totalmem } from 'node:os';
import { UserError } from './errors.js';

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; }
  return u === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[u]}`;
}

/**
 * Refuses (a UserError naming `what`) when the sum of `parts` (bytes each) is
 * more than `limit` (default: the machine's total memory, os.totalmem()).
 */
export function checkMemory(what: string, parts: Record<string, number>, limit = totalmem()): void {
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  if (total <= limit) return;
  const biggest = Object.entries(parts).filter(([, b]) => b > 0).sort((a, b) => b[1] - a[1])
    .map(([name, b]) => `${name} ${formatBytes(b)}`).join(', ');
  throw new UserError(`${what}: needs about ${formatBytes(total)} of memory (${biggest}), more than this machine's ${formatBytes(limit)}; make it smaller`);
}
