/**
 * The reference multi-task workload every throughput figure uses: input width 64,
 * trunk 512 → 512 with ReLU, heads 10-class cross-entropy, binary BCE-with-logits
 * and 1-output MSE on the trunk output, batch 256 rows shared by all tasks, Adam
 * lr 1e-3; synthetic data from a fixed seed. About 446 MFLOP per step.
 */
import type { Dataset } from '../src/data/dataset.js';
import type { TrainerConfig } from '../src/trainer/config.js';
import { Rng } from '../src/util/rng.js';

export const REFERENCE = { inputWidth: 64, hidden: 512, classes: 10, batch: 256, rows: 8192, lr: 1e-3 };

function shared(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * 4));
}

/** Gaussian features; labels from fixed random linear maps so the tasks are learnable. */
export function referenceDataset(seed = 7): Dataset {
  const { inputWidth: d, classes, rows } = REFERENCE;
  const rng = new Rng(seed, 0x4ef);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const features = shared(rows * d);
  for (let i = 0; i < features.length; i++) features[i] = normal();
  const maps = Array.from({ length: classes + 2 }, () => Float64Array.from({ length: d }, normal));
  const cls = shared(rows);
  const bin = shared(rows);
  const reg = shared(rows);
  for (let r = 0; r < rows; r++) {
    const x = features.subarray(r * d, (r + 1) * d);
    const score = maps.map((w) => w.reduce((s, v, i) => s + v * x[i], 0));
    let best = 0;
    for (let c = 1; c < classes; c++) if (score[c] > score[best]) best = c;
    cls[r] = best;
    bin[r] = score[classes] > 0 ? 1 : 0;
    reg[r] = score[classes + 1] / Math.sqrt(d);
  }
  const task = (name: string, loss: 'cross_entropy' | 'bce_with_logits' | 'mse', outputs: number, targets: Float32Array) =>
    ({ name, loss, column: name, outputs, targets, labelled: rows });
  const split = Math.floor(rows * 0.9);
  return {
    source: 'reference workload',
    rows,
    inputWidth: d,
    features,
    encoding: { columns: [], names: Array.from({ length: d }, (_, i) => `x${i}`), mean: new Float32Array(d), std: new Float32Array(d).fill(1) },
    tasks: [
      { ...task('digit', 'cross_entropy', classes, cls), classes: Array.from({ length: classes }, (_, i) => String(i)) },
      { ...task('flag', 'bce_with_logits', 1, bin), classes: ['0', '1'] },
      { ...task('level', 'mse', 1, reg), targetMean: 0, targetStd: 1 },
    ],
    train: Int32Array.from({ length: split }, (_, i) => i),
    validation: Int32Array.from({ length: rows - split }, (_, i) => split + i),
    droppedRows: 0,
  };
}

export function referenceConfig(over: TrainerConfig = {}): TrainerConfig {
  return {
    data: { kind: 'dataset', dataset: referenceDataset() },
    trunk: [{ units: REFERENCE.hidden, activation: 'relu' }, { units: REFERENCE.hidden, activation: 'relu' }],
    optimizer: { name: 'adam', lr: REFERENCE.lr },
    batchSize: REFERENCE.batch,
    seed: 1,
    ...over,
  };
}
