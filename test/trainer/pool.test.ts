import { afterAll, describe, expect, it } from 'vitest';
import { shareDataset } from '../../src/data/dataset-handle.js';
import { ParameterStore } from '../../src/model/parameters.js';
import { FrameArena } from '../../src/protocol/arena.js';
import { PROTOCOL_VERSION } from '../../src/protocol/codec.js';
import { readFrame } from '../../src/protocol/frame.js';
import type { GradientJob } from '../../src/protocol/messages.js';
import { gradientJobs } from '../../src/trainer/plan.js';
import { WorkerPool } from '../../src/trainer/pool.js';
import { fixtureDataset, fixtureSpec, rows } from '../helpers/torch-fixture.js';

const spec = fixtureSpec();
const params = ParameterStore.create(spec, 0);
const arena = FrameArena.create(4, params.layout.total);
const batchRows = new SharedArrayBuffer(rows * 4);
new Int32Array(batchRows).set(Array.from({ length: rows }, (_, i) => i));
const pool = new WorkerPool(2, {
  v: PROTOCOL_VERSION, spec, params: params.handle(), dataset: shareDataset(fixtureDataset()),
  arena: arena.handle, batchRows, maxRows: rows,
});
afterAll(() => pool.close());

const job = (over: Partial<GradientJob>): GradientJob => ({
  ...gradientJobs(5, params.version, [1], [1], rows, 1, 0)[0], ...over,
});

describe('worker pool', () => {
  it('each job writes its frame into the arena slot it names, whichever thread runs it', async () => {
    await pool.warm();
    const jobs = [job({ slot: 2, shard: 0 }), job({ slot: 0, shard: 1 }), job({ slot: 3, shard: 2 })];
    const before = performance.now();
    await pool.runJobs(jobs);
    for (const { slot, shard } of jobs) {
      const frame = readFrame(arena.frame(slot), { step: 5, shard, version: params.version });
      expect(frame.header.tasks).toEqual([1]);
      expect(frame.payload.every(Number.isFinite)).toBe(true);
      expect(pool.finishedAt[slot]).toBeGreaterThan(before);
    }
    // the same rows give the same gradient in every slot
    expect(readFrame(arena.frame(0)).payload).toEqual(readFrame(arena.frame(2)).payload);
  });

  it('errors inside a worker reach the caller with the task, step and shard named', async () => {
    await expect(pool.runJobs([job({ rowCount: rows + 1 })])).rejects.toThrow(/^task sex, step 5: the job failed 3 times; last cause: task sex, step 5, shard 0: 10 rows exceed the workspace's 9/);
    await expect(pool.runJobs([job({ version: params.version + 3, step: 11 })])).rejects.toThrow(/task sex, step 11, shard 0: parameters are at version \d+, the job expected/);
    await expect(pool.runJobs([{ ...job({}), v: 99 }])).rejects.toThrow(/job protocol version 99/);
    // the pool keeps working after a failed job
    await expect(pool.runJobs([job({})])).resolves.toBeUndefined();
  });

  it('retried faults are reported once per failed attempt', async () => {
    const messages: string[] = [];
    pool.onFault = (m) => messages.push(m);
    await expect(pool.runJobs([job({ rowCount: rows + 1, step: 8 })])).rejects.toThrow(/failed 3 times/);
    expect(messages).toEqual([1, 2].map((n) => expect.stringMatching(new RegExp(`^sex: attempt ${n} failed: task sex, step 8, shard 0: .*; retrying$`))));
    pool.onFault = undefined;
  });
});
