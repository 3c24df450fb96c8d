import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Dataset } from '../../src/data/dataset.js';
import { loadCsvDataset } from '../../src/data/dataset-from-table.js';
import { attachDataset, shareDataset } from '../../src/data/dataset-handle.js';
import type { TaskSpec } from '../../src/data/task-spec.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

const TASKS: TaskSpec[] = [
  { name: 'kind', column: 'kind', loss: 'cross_entropy' },
  { name: 'sex', column: 'sex', loss: 'bce_with_logits' },
  { name: 'mass', column: 'mass', loss: 'mse' },
];

describe('shareDataset / attachDataset', () => {
  const ds: Dataset = loadCsvDataset(fixture('animals.csv'), { tasks: TASKS });

  it('survives structuredClone sharing the memory, both ways', () => {
    const handle = shareDataset(ds);
    const copy = attachDataset(structuredClone(handle));
    expect(copy.rows).toBe(10);
    expect(copy.inputWidth).toBe(5);
    expect(copy.tasks.map((t) => [t.name, t.loss, t.outputs])).toEqual([['kind', 'cross_entropy', 3], ['sex', 'bce_with_logits', 1], ['mass', 'mse', 1]]);
    expect(copy.features).not.toBe(ds.features);
    expect(Array.from(copy.features)).toEqual(Array.from(ds.features));
    copy.features[7] = 123.5;
    expect(ds.features[7]).toBe(123.5);
    ds.tasks[2].targets[1] = -4.25;
    expect(copy.tasks[2].targets[1]).toBe(-4.25);
    copy.tasks[0].targets[3] = 1;
    expect(ds.tasks[0].targets[3]).toBe(1);
  });

  it('is shared with a worker thread through postMessage', async () => {
    const handle = shareDataset(ds);
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.once('message', (h) => {
         h.features[0] = 42; h.tasks[0].targets[0] = 2;
         parentPort.postMessage(h.features[1]);
       });`,
      { eval: true });
    const seen = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.postMessage(handle);
    });
    await worker.terminate();
    expect(seen).toBe(ds.features[1]);
    expect(ds.features[0]).toBe(42);
    expect(ds.tasks[0].targets[0]).toBe(2);
  });

  it('rejects a handle whose arrays are not shared', () => {
    const h = shareDataset(ds);
    expect(() => attachDataset({ ...h, features: new Float32Array(h.features) })).toThrow(/SharedArrayBuffer/);
    expect(() => attachDataset({ ...h, rows: 11 })).toThrow(/SharedArrayBuffer-backed Float32Array of 11×5/);
  });
});
