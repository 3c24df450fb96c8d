/** The PyTorch reference fixture (test/fixtures/torch/multitask-grad.json) as a model spec, parameters and a Dataset. */
import { readFileSync } from 'node:fs';
import type { Dataset } from '../../src/data/dataset.js';
import type { LossKind, Activation } from '../../src/kernels/types.js';
import type { ModelSpec } from '../../src/model/spec.js';

type Named = Record<string, number[]>;
interface Results {
  losses: Record<string, number>;
  taskGrads: Record<string, Named>;
  weightedLoss: number;
  weightedGrad: Named;
  adamStep: Named;
  sequentialFresh: Named[];
  sequentialStale: Named[];
}
export interface TorchFixture {
  model: {
    inputSize: number;
    trunk: { out: number; activation: Activation }[];
    heads: Record<string, { hidden: { out: number; activation: Activation }[]; out: number; loss: LossKind }>;
  };
  parameterOrder: string[];
  parameters: Named;
  inputs: number[];
  targets: Record<string, (number | null)[]>;
  lossWeights: Record<string, number>;
  sequentialLr: Record<string, number>;
  adam: { lr: number; betas: [number, number]; eps: number; weightDecay: number };
  float64: Results;
  float32: Results;
}

export const fixture: TorchFixture = JSON.parse(
  readFileSync(new URL('../fixtures/torch/multitask-grad.json', import.meta.url), 'utf8'));

export const taskNames = Object.keys(fixture.model.heads);
export const rows = fixture.targets[taskNames[0]].length;

export function fixtureSpec(): ModelSpec {
  const m = fixture.model;
  return {
    inputWidth: m.inputSize,
    trunk: m.trunk.map((l) => ({ units: l.out, activation: l.activation })),
    tasks: taskNames.map((name) => {
      const h = m.heads[name];
      return {
        name,
        loss: h.loss,
        outputs: h.out,
        hidden: h.hidden[0] ? { units: h.hidden[0].out, activation: h.hidden[0].activation } : undefined,
        weight: fixture.lossWeights[name],
      };
    }),
  };
}

const shared = (values: ArrayLike<number | null>): Float32Array => {
  const a = new Float32Array(new SharedArrayBuffer(values.length * 4));
  for (let i = 0; i < values.length; i++) a[i] = values[i] ?? NaN;
  return a;
};

/** Targets of task `name` as the kernels take them (NaN = missing). */
export function fixtureTargets(name: string): Float32Array {
  return shared(fixture.targets[name]);
}

/** The fixture's rows as a Dataset with every row in the training split (features already standardized). */
export function fixtureDataset(): Dataset {
  const spec = fixtureSpec();
  const width = spec.inputWidth;
  return {
    source: 'multitask-grad.json',
    rows,
    inputWidth: width,
    features: shared(fixture.inputs),
    encoding: {
      columns: Array.from({ length: width }, (_, i) => ({ name: `x${i}`, kind: 'numeric' as const })),
      names: Array.from({ length: width }, (_, i) => `x${i}`),
      mean: new Float32Array(width),
      std: new Float32Array(width).fill(1),
    },
    tasks: spec.tasks.map((t) => {
      const targets = fixtureTargets(t.name);
      return {
        name: t.name,
        loss: t.loss,
        column: t.name,
        outputs: t.outputs,
        classes: t.loss === 'cross_entropy' ? ['a', 'b', 'c'] : t.loss === 'mse' ? undefined : ['no', 'yes'],
        targets,
        labelled: targets.filter((v) => !Number.isNaN(v)).length,
      };
    }),
    train: Int32Array.from({ length: rows }, (_, i) => i),
    validation: new Int32Array(0),
    droppedRows: 0,
  };
}

/** Largest |a − b| / (tol_abs + tol_rel·|b|) over named tensors; ≤ 1 means within tolerance. */
export function expectClose(actual: Record<string, ArrayLike<number>>, expected: Named, rel = 1e-4, abs = 1e-6): void {
  for (const [name, want] of Object.entries(expected)) {
    const got = actual[name];
    if (!got) throw new Error(`missing tensor ${name}`);
    if (got.length !== want.length) throw new Error(`${name}: ${got.length} values, expected ${want.length}`);
    for (let i = 0; i < want.length; i++) {
      const err = Math.abs(got[i] - want[i]);
      if (!(err <= abs + rel * Math.abs(want[i]))) {
        throw new Error(`${name}[${i}] = ${got[i]}, expected ${want[i]} (|Δ| ${err.toExponential(2)})`);
      }
    }
  }
}
