import { PROTOCOL_VERSION } from '../protocol/codec.js';
import type { GradientJob } from '../protocol/messages.js';

/** Rows [start, start + count) of the batch that shard s of `shards` covers: contiguous, sizes differ by at most one. */
export function shardRange(rows: number, shards: number, s: number): { start: number; count: number } {
  const start = Math.floor((s * rows) / shards);
  return { start, count: Math.floor(((s + 1) * rows) / shards) - start };
}

/**
 * The jobs of one gradient (or, `separate`, of each task's own gradient from a
 * shared forward pass): one per shard, over the same task set, each in its
 * own arena slot starting at `firstSlot`. Shards are in order, and reduced in
 * that order, so results never depend on which worker ran what.
 */
export function gradientJobs(step: number, version: number, tasks: number[], scales: number[],
  rows: number, shards: number, firstSlot: number, separate = false): GradientJob[] {
  const jobs: GradientJob[] = [];
  for (let s = 0; s < shards; s++) {
    const { start, count } = shardRange(rows, shards, s);
    if (count === 0) continue;
    jobs.push({ kind: 'gradient', v: PROTOCOL_VERSION, step, version, shard: s, slot: firstSlot + s, tasks, scales, rowStart: start, rowCount: count, attempt: 0, separate });
  }
  return jobs;
}
