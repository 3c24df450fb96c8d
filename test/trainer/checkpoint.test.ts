import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeCheckpoint, encodeCheckpoint, listCheckpoints, loadLatestCheckpoint, saveCheckpoint, type CheckpointData,
} from '../../src/trainer/checkpoint.js';
import type { TrainerConfig } from '../../src/trainer/config.js';
import { MAX_CHUNK_STEPS } from '../../src/trainer/step-chunk.js';
import { Trainer } from '../../src/trainer/trainer.js';
import { createTrainer, sameBits } from '../helpers/trainers.js';


async function trainer(config: TrainerConfig): Promise<Trainer> {
  const t = await createTrainer({ workers: 2, seed: 11, batchSize: 48, model: { trunk: [24], activation: 'tanh' }, ...config });
  return t;
}


describe('exact resume', () => {
  const configs: [string, TrainerConfig][] = [
    ['sum (Adam)', { strategy: 'sum' }],
    ['sequential fresh (SGD momentum, per-task rates)', { strategy: 'sequential', optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 }, taskLr: { sex: 0.02 } }],
    ['sequential stale (AdamW)', { strategy: 'sequential', sequentialMode: 'stale', optimizer: { name: 'adamw', lr: 0.01 } }],
  ];
  for (const [label, config] of configs) {
    it(`${label}: stopped at any step and resumed, ends bit-identical to the run never stopped`, async () => {
      const whole = await trainer(config);
      const snapshots: CheckpointData[] = [];
      const reports = await whole.fit({ epochs: 3, checkpointEvery: 4, onCheckpoint: (d) => { snapshots.push(d); } });
      expect(snapshots.length).toBeGreaterThan(4);
      // one checkpoint mid-epoch, one at an epoch end
      for (const snap of [snapshots[1], snapshots.find((s) => s.batchInEpoch === 0)!]) {
        const resumed = await trainer({ ...config, workers: 1 }); // the worker count may change on resume
        resumed.restore(decodeCheckpoint(encodeCheckpoint(snap), 'test'));
        const rest = await resumed.fit({ epochs: 3 - snap.epoch });
        expect(sameBits(resumed.params.data, whole.params.data)).toBe(true);
        // the epoch under way at the checkpoint reports the same training loss
        expect(rest.at(-1)!.train).toEqual(reports.at(-1)!.train);
        await resumed.close();
      }
    });
  }

  it('refuses a checkpoint of a run with other settings', async () => {
    const a = await trainer({});
    const b = await trainer({ seed: 12 });
    expect(() => b.restore(a.snapshot(), 'ckpt')).toThrow(/ckpt: written by a run with other settings/);
  });

  it('stops early when asked: after the step in flight, or on the threads after the chunk of steps in flight', async () => {
    const alone = await trainer({ computeOn: 'coordinator' });
    let steps = 0;
    await alone.fit({ epochs: 5, onStep: () => { steps++; }, shouldStop: () => steps >= 3 });
    expect(alone.stoppedEarly).toBe(true);
    expect(alone.steps).toBe(3);
    // fused steps back to back: shouldStop is asked between chunks, and every step taken is reported
    const threads = await trainer({ computeOn: 'workers' });
    let reported = 0;
    await threads.fit({ epochs: 5, onStep: () => { reported++; }, shouldStop: () => reported >= 3 });
    expect(threads.stoppedEarly).toBe(true);
    expect(threads.loopStats.steps).toBe(threads.steps);
    expect(threads.steps).toBeGreaterThanOrEqual(3);
    expect(threads.steps).toBeLessThan(3 + MAX_CHUNK_STEPS);
    expect(reported).toBe(threads.steps);
  });
});

describe('checkpoint files', () => {
  const snapshot = (step: number): CheckpointData => ({
    format: 1, configHash: 'abc', step, epoch: 1, batchInEpoch: 2, params: Float32Array.from([1, 2, 3]),
    optimizers: [{ name: 'adam', stepCount: 4, length: 3, buffers: { m: new Float32Array(3), v: new Float32Array(3) } }],
    strategyState: { order: [1, 0] }, trainTotals: new Float64Array(9), skippedSteps: 0,
  });

  it('round-trip; only the newest K are kept; the newest loads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-ckpt-'));
    for (const step of [5, 10, 15, 20]) saveCheckpoint(dir, snapshot(step), 2);
    expect(listCheckpoints(dir).map((p) => p.split('/').at(-1))).toEqual(['step-000000015.ckpt', 'step-000000020.ckpt']);
    const latest = loadLatestCheckpoint(dir)!;
    expect(latest.data.step).toBe(20);
    expect(Array.from(latest.data.params)).toEqual([1, 2, 3]);
    expect(latest.data.strategyState).toEqual({ order: [1, 0] });
  });

  it('rejects truncated, corrupted, foreign and wrong-version files with a clear message', () => {
    const bytes = encodeCheckpoint(snapshot(1));
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 1), 'f')).toThrow(/f: truncated or padded checkpoint/);
    const flipped = Uint8Array.from(bytes);
    flipped[flipped.length - 2] ^= 0xff;
    expect(() => decodeCheckpoint(flipped, 'f')).toThrow(/f: checkpoint is corrupted/);
    expect(() => decodeCheckpoint(Buffer.from('hello world, not a checkpoint at all, really not'), 'f')).toThrow(/f: not a multitask checkpoint/);
    const huge = Uint8Array.from(bytes);
    Buffer.from(huge.buffer).writeBigUInt64LE(2n ** 60n, 8);
    expect(() => decodeCheckpoint(huge, 'f')).toThrow(/header says \d+ body bytes/);
    const other = encodeCheckpoint({ ...snapshot(1), format: 2 });
    expect(() => decodeCheckpoint(other, 'f')).toThrow(/field "format": expected format version 1, got 2/);
    const dir = mkdtempSync(join(tmpdir(), 'mt-ckpt-'));
    writeFileSync(join(dir, 'step-000000001.ckpt'), readFileSync(new URL(import.meta.url)));
    expect(() => loadLatestCheckpoint(dir)).toThrow(/not a multitask checkpoint/);
  });
});
