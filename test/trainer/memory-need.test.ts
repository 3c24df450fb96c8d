import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/trainer/config.js';
import { cappedWorkers, memoryNeed } from '../../src/trainer/memory-need.js';
import { checkMemory, formatBytes } from '../../src/util/memory.js';
import { fixtureDataset } from '../helpers/torch-fixture.js';
import { createTrainer } from '../helpers/trainers.js';
import { userErrorMessage } from '../helpers/user-error.js';

describe('memory a run needs, checked before allocating', () => {
  it('formatBytes and checkMemory: one line with the total and the parts, biggest first', () => {
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 2 ** 40)).toBe('3.0 TiB');
    checkMemory('small', { a: 10 }, 100);
    expect(userErrorMessage(() => checkMemory('big', { a: 2 ** 30, b: 2 ** 31 }, 2 ** 30)))
      .toBe('big: needs about 3.0 GiB of memory (b 2.0 GiB, a 1.0 GiB), more than this machine\'s 1.0 GiB; make it smaller');
  });

  it('counts parameters, optimizer state, the arena (slots × payload) and the dataset', () => {
    const dataset = fixtureDataset();
    const spec = { inputWidth: 1000, trunk: [{ units: 1000, activation: 'relu' as const }], tasks: [
      { name: 'a', loss: 'mse' as const, outputs: 1, weight: 1 }, { name: 'b', loss: 'mse' as const, outputs: 1, weight: 1 }] };
    const P = 1000 * 1000 + 1000 + 2 * (1000 + 1);
    const sum = memoryNeed(resolveConfig({ strategy: 'sum' }, 't'), spec, dataset, 4);
    expect(sum.parameters).toBe(4 * P);
    expect(sum['optimizer state']).toBe(8 * P);
    expect(sum['gradient arena']).toBe(4 * P * 4);
    const pcgrad = memoryNeed(resolveConfig({ strategy: 'pcgrad' }, 't'), spec, dataset, 4);
    expect(pcgrad['gradient arena']).toBe(4 * P * 4 * 2);
    expect(pcgrad.dataset).toBe(dataset.features.byteLength + dataset.tasks.reduce((a, t) => a + t.targets.byteLength, 0));
    // the step loop: a chunk's batch rows (64 steps of the default 32 rows), and a per-task plan's update vector
    expect(sum['step loop']).toBe(4 * 64 * 32);
    expect(pcgrad['step loop']).toBe(4 * 64 * 32 + 4 * P);
  });

  it('Trainer.create refuses a trunk of 1,000,000 × 1,000,000 before allocating it', async () => {
    const started = Date.now();
    const err = await createTrainer({ model: { trunk: [1_000_000, 1_000_000] }, workers: 1 }).then(() => undefined, (e: Error) => e);
    expect(err?.name).toBe('UserError');
    expect(err?.message).toMatch(/^model \(inputs \d+, trunk 1000000,1000000, 3 tasks\): needs about [\d.]+ TiB of memory \(optimizer state [\d.]+ TiB, parameters [\d.]+ TiB, gradient arena [\d.]+ TiB, dataset [\d.]+ KiB, step loop [\d.]+ KiB\), more than this machine's [\d.]+ GiB; make it smaller$/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('workers beyond 4 × the cores are capped, with a notice', async () => {
    expect(cappedWorkers(8, 2)).toEqual({ workers: 8 });
    expect(cappedWorkers(100_000, 2)).toEqual({ workers: 8, notice: 'workers: 100000 is more than 4 × the 2 cores; using 8' });
    const t = await createTrainer({ workers: 100_000, epochs: 1 });
    expect(t.config.workers).toBeLessThanOrEqual(4 * (await import('node:os')).availableParallelism());
    expect(t.warnings[0]).toMatch(/^workers: 100000 is more than 4 × the \d+ cores; using \d+$/);
  });
});
