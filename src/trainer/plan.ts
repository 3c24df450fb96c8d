import { PROTOCOL_VERSION } from '../protocol/codec.js';
import type { GradientJob } from '../protocol/messages.js';

/** The rows shard `shard` of `shards` covers in a batch of `rows`: contiguous, sizes differing by at most one. */
export function shardRows(shard: number, rows: number, shards: number): { start: number; count: number } {
  const start = Math.floor((shard * rows) / shards);
  return { start, count: Math.floor(((shard + 1) * rows) / shards) - start };
}

/** Sets a job's rows to its shard's (shardRows). */
export function setShardRows(job: GradientJob, rows: number, shards: number): void {
  const { start, count } = shardRows(job.shard, rows, shards);
  job.rowStart = start;
  job.rowCount = count;
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
    const job: GradientJob = { kind: 'gradient', v: PROTOCOL_VERSION, step, version, shard: s, slot: firstSlot + s, tasks, scales, rowStart: 0, rowCount: 0, attempt: 0, separate };
    setShardRows(job, rows, shards);
    if (job.rowCount > 0) jobs.push(job);
  }
  return jobs;
}
