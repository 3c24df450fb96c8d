import { afterAll, describe, expect, it } from 'vitest';
import { shareDataset } from '../../src/data/dataset.js';
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
  it('a job returns its frame in the arena slot it was given', async () => {
    await pool.warm();
    const bytes = await pool.run(job({ slot: 2 }));
    const frame = readFrame(arena.frame(2), { step: 5, version: params.version });
    expect(bytes).toBeGreaterThan(frame.payload.length * 4);
    expect(frame.header.tasks).toEqual([1]);
    expect(frame.payload.every(Number.isFinite)).toBe(true);
  });

  it('errors inside a worker reach the caller with the task, step and shard named', async () => {
    await expect(pool.run(job({ rowCount: rows + 1 }))).rejects.toThrow(/^task sex, step 5, shard 0: 10 rows exceed the workspace's 9/);
    await expect(pool.run(job({ version: params.version + 3, step: 11 }))).rejects.toThrow(/task sex, step 11, shard 0: parameters are at version \d+, the job expected/);
    await expect(pool.run({ ...job({}), v: 99 })).rejects.toThrow(/job protocol version 99/);
    // the pool keeps working after a failed job
    await expect(pool.run(job({}))).resolves.toBeGreaterThan(0);
  });
});
