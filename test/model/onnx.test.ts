import { describe, expect, it } from 'vitest';
import { buildLayout } from '../../src/model/layout.js';
import { Model } from '../../src/model/model.js';
import { onnxOutputs, toOnnx } from '../../src/model/onnx.js';
import { IR_VERSION, OPSET_VERSION } from '../../src/model/onnx-proto.js';
import type { Preprocessing } from '../../src/model/preprocessing.js';
import type { MixtureSpec, ModelSpec } from '../../src/model/spec.js';
import { Rng } from '../../src/util/rng.js';
import { onnxInput, onnxMetadata, onnxOps, ort, readMessage, runOnnx, worstError } from '../helpers/onnx.js';

/** Every activation, every loss, heads with and without a hidden layer, a scaled and an unscaled regression. */
const spec: ModelSpec = {
  inputWidth: 5,
  trunk: [{ units: 8, activation: 'relu' }, { units: 6, activation: 'gelu' }],
  tasks: [
    { name: 'kind', loss: 'cross_entropy', outputs: 3, hidden: { units: 4, activation: 'sigmoid' }, weight: 1 },
    { name: 'flag', loss: 'bce', outputs: 1, hidden: { units: 3, activation: 'gelu' }, weight: 1 },
    { name: 'logit_flag', loss: 'bce_with_logits', outputs: 1, weight: 1 },
    { name: 'size', loss: 'mse', outputs: 1, hidden: { units: 3, activation: 'tanh' }, weight: 1 },
    { name: 'pair', loss: 'l1', outputs: 2, weight: 0.5 },
  ],
};

const preprocessing = (): Preprocessing => ({
  features: {
    columns: [
      { name: 'colour', kind: 'categorical', levels: ['blue', 'green', 'red'] },
      { name: 'a', kind: 'numeric' },
      { name: 'b', kind: 'numeric' },
    ],
    names: ['colour=blue', 'colour=green', 'colour=red', 'a', 'b'],
    mean: Float32Array.from([0, 0, 0, 12.5, -3]),
    std: Float32Array.from([1, 1, 1, 4, 0.25]),
  },
  tasks: [
    { name: 'kind', column: 'Kind', loss: 'cross_entropy', classes: ['x', 'y', 'z'] },
    { name: 'flag', column: 'Flag', loss: 'bce', classes: ['no', 'yes'] },
    { name: 'logit_flag', column: 'Flag2', loss: 'bce_with_logits', classes: ['off', 'on'] },
    { name: 'size', column: 'Size', loss: 'mse', targetMean: 1500, targetStd: 300 },
    { name: 'pair', column: 'Pair', loss: 'l1' },
  ],
});

function randomModel(s: ModelSpec, seed: number, pre = preprocessing()): Model {
  const rng = new Rng(seed);
  const data = Float32Array.from({ length: buildLayout(s).total }, () => rng.uniform(-1.5, 1.5));
  return new Model(s, data, pre);
}


const rng = new Rng(11);
const records = Array.from({ length: 37 }, () => ({
  colour: ['red', 'green', 'blue'][rng.int(3)],
  a: rng.uniform(0, 25),
  b: rng.uniform(-4, -2),
}));

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(worstError(actual, expected), what).toBeLessThanOrEqual(1e-5);
}

/** Every output of the spec's tasks (every loss) against Model.predict on `records`. */
function expectPredictions(out: Record<string, Float32Array>, model: Model): void {
  const p = model.predict(records, { probabilities: true });
  expectClose(out['kind.logits'], p.kind.outputs, 'kind.logits');
  expectClose(out['kind.probabilities'], p.kind.probabilities!, 'kind.probabilities');
  // bce: the head ends in a sigmoid; its logit is the sigmoid's input
  expectClose(out['flag.logits'].map((z) => 1 / (1 + Math.exp(-z))), p.flag.outputs, 'flag.logits');
  expectClose(out['flag.probabilities'], p.flag.probabilities!, 'flag.probabilities');
  expectClose(out['logit_flag.logits'], p.logit_flag.outputs, 'logit_flag.logits');
  expectClose(out['logit_flag.probabilities'], p.logit_flag.probabilities!, 'logit_flag.probabilities');
  expectClose(out.size, p.size.outputs, 'size');
  expectClose(out.pair, p.pair.outputs, 'pair');
}

describe('toOnnx', () => {
  const model = randomModel(spec, 3);
  const bytes = toOnnx(model, { producerVersion: '9.9.9' });
  const meta = onnxMetadata(bytes);

  it('runs in onnxruntime and gives what Model.predict gives, for every activation and loss', async () => {
    const out = await runOnnx(bytes, onnxInput(meta, records), spec.inputWidth);
    expectPredictions(out, model);
    // the outputs are not trivially close: the size is in the target's units, the probabilities vary
    expect(Math.max(...out.size.map(Math.abs))).toBeGreaterThan(100);
    const first = Array.from(out['kind.probabilities'].filter((_, i) => i % 3 === 0));
    expect(Math.max(...first) - Math.min(...first)).toBeGreaterThan(0.01);
  });

  it('declares one input [N, inputWidth] and the outputs of every task, in order, with their shapes', async () => {
    const session = await ort.InferenceSession.create(bytes);
    try {
      expect(session.inputNames).toEqual(['features']);
      expect(session.outputNames).toEqual(['kind.logits', 'kind.probabilities', 'flag.logits', 'flag.probabilities',
        'logit_flag.logits', 'logit_flag.probabilities', 'size', 'pair']);
      const shape = (m: ort.InferenceSession.ValueMetadata) => (m.isTensor ? m.shape : undefined);
      expect(shape(session.inputMetadata[0])).toEqual(['N', 5]);
      expect(session.outputMetadata.map(shape)).toEqual([['N', 3], ['N', 3], ['N', 1], ['N', 2], ['N', 1], ['N', 2], ['N', 1], ['N', 2]]);
    } finally {
      await session.release();
    }
    const top = readMessage(bytes);
    expect(top.get(1)).toEqual([BigInt(IR_VERSION)]);
    const opset = readMessage(top.get(8)![0] as Uint8Array);
    expect(opset.get(2)).toEqual([BigInt(OPSET_VERSION)]);
    expect(new TextDecoder().decode(top.get(3)![0] as Uint8Array)).toBe('9.9.9');
    // the standardization is in the graph, then one Gemm per linear layer (2 trunk + 3 hidden + 5 output)
    const ops = onnxOps(bytes);
    expect(ops.slice(0, 2)).toEqual(['Sub', 'Div']);
    expect(ops.filter((o) => o === 'Gemm')).toHaveLength(10);
    expect(ops.filter((o) => o === 'Softmax')).toHaveLength(1);
    expect(ops.filter((o) => o === 'Erf')).toHaveLength(2); // the trunk's and flag's gelu
  });

  it('carries the feature order, the one-hot levels and the outputs in its metadata', () => {
    expect(JSON.parse(meta.features)).toEqual(preprocessing().features.columns);
    expect(JSON.parse(meta.inputs)).toEqual(['colour=blue', 'colour=green', 'colour=red', 'a', 'b']);
    expect(JSON.parse(meta.outputs)).toEqual(onnxOutputs(model));
    expect(JSON.parse(meta.outputs)[1]).toEqual({ name: 'kind.probabilities', task: 'kind', kind: 'probabilities', width: 3, classes: ['x', 'y', 'z'] });
    expect(JSON.parse(meta.multitask)).toEqual(JSON.parse(model.metadataJSON()));
  });

  it('standardizes inside the graph: the raw input, not the standardized one, reproduces predict', async () => {
    const raw = onnxInput(meta, records);
    const standardized = model.encode(records);
    expect(Array.from(raw)).not.toEqual(Array.from(standardized));
    const fromRaw = await runOnnx(bytes, raw, spec.inputWidth);
    const fromStandardized = await runOnnx(bytes, standardized, spec.inputWidth);
    expectClose(fromRaw.size, model.predict(standardized).size.outputs, 'size');
    expect(Math.max(...fromStandardized.size.map((v, i) => Math.abs(v - fromRaw.size[i])))).toBeGreaterThan(1);
  });

  it('a model without trunk layers: the heads read the standardized input', async () => {
    const flat = randomModel({ ...spec, trunk: [] }, 5);
    const flatBytes = toOnnx(flat);
    const out = await runOnnx(flatBytes, onnxInput(onnxMetadata(flatBytes), records), spec.inputWidth);
    const p = flat.predict(records, { probabilities: true });
    expectClose(out['kind.probabilities'], p.kind.probabilities!, 'kind.probabilities');
    expectClose(out.size, p.size.outputs, 'size');
  });

  it('a spec whose mixture field is there but undefined (as a config without one resolves) gives the shared graph', () => {
    // ModelSpec has no architecture field: what decides the graph is `mixture`, present or not
    const shared: ModelSpec = { ...spec, mixture: undefined };
    expect(onnxOps(toOnnx(randomModel(shared, 3)))).toEqual(onnxOps(bytes));
  });

  it('input of the wrong width is refused by the runtime (the declared shape)', async () => {
    await expect(runOnnx(bytes, new Float32Array(2 * 4), 4)).rejects.toThrow(/features|dimension|shape/i);
  });
});

/** The spec's tasks (every loss) on a mixture: no trunk, no hidden head layers. */
const mixtureSpec = (mixture: MixtureSpec): ModelSpec => ({ ...spec, trunk: [], tasks: spec.tasks.map(({ hidden: _, ...t }) => t), mixture });

describe('toOnnx of a mixture of experts', () => {
  const cases: { name: string; mixture: MixtureSpec }[] = [
    { name: 'mmoe, two-layer experts and a tower', mixture: { architecture: 'mmoe', experts: 3, taskExperts: 0, levels: 1, expert: [{ units: 6, activation: 'relu' }, { units: 4, activation: 'gelu' }], tower: [{ units: 3, activation: 'tanh' }] } },
    { name: 'mmoe, one expert and no tower', mixture: { architecture: 'mmoe', experts: 1, taskExperts: 0, levels: 1, expert: [{ units: 4, activation: 'sigmoid' }], tower: [] } },
    { name: 'ple, 1 level (CGC)', mixture: { architecture: 'ple', experts: 2, taskExperts: 1, levels: 1, expert: [{ units: 4, activation: 'sigmoid' }], tower: [] } },
    { name: 'ple, 2 levels', mixture: { architecture: 'ple', experts: 2, taskExperts: 2, levels: 2, expert: [{ units: 5, activation: 'gelu' }], tower: [{ units: 3, activation: 'relu' }] } },
    { name: 'ple, 3 levels', mixture: { architecture: 'ple', experts: 1, taskExperts: 1, levels: 3, expert: [{ units: 4, activation: 'tanh' }, { units: 3, activation: 'relu' }], tower: [] } },
  ];

  for (const { name, mixture } of cases) {
    it(`${name}: onnxruntime gives every output Model.predict gives`, async () => {
      const s = mixtureSpec(mixture);
      const model = randomModel(s, 7);
      const mixtureBytes = toOnnx(model);
      const out = await runOnnx(mixtureBytes, onnxInput(onnxMetadata(mixtureBytes), records), s.inputWidth);
      expectPredictions(out, model);
      // the rows differ: the graph computes per row, not a constant
      const size = Array.from(out.size);
      expect(Math.max(...size) - Math.min(...size)).toBeGreaterThan(1);
    });
  }

  it('writes one Gemm per Linear layer and one softmax gate per task and level, plus a shared gate below the last level', () => {
    for (const { mixture } of cases) {
      const s = mixtureSpec(mixture);
      const model = randomModel(s, 7);
      const ops = onnxOps(toOnnx(model));
      expect(ops.slice(0, 2)).toEqual(['Sub', 'Div']);
      expect(ops.filter((o) => o === 'Gemm')).toHaveLength(model.layout.entries.length / 2);
      const T = s.tasks.length;
      const L = mixture.levels;
      const gates = T * L + (mixture.architecture === 'ple' ? L - 1 : 0);
      // + 1: the cross_entropy task's probabilities
      expect(ops.filter((o) => o === 'Softmax'), mixture.architecture).toHaveLength(gates + 1);
      expect(ops.filter((o) => o === 'ReduceSum')).toHaveLength(gates);
    }
  });

  it('names every weight as the model does (PyTorch names) and keeps the metadata contract', () => {
    const s = mixtureSpec(cases[3].mixture);
    const model = randomModel(s, 7);
    const mixtureBytes = toOnnx(model);
    const graph = readMessage(readMessage(mixtureBytes).get(7)![0] as Uint8Array);
    const initializers = (graph.get(5) ?? []).map((t) => new TextDecoder().decode(readMessage(t as Uint8Array).get(8)![0] as Uint8Array));
    for (const e of model.layout.entries) expect(initializers).toContain(e.name);
    expect(initializers).toContain('shared_gates.0.weight');
    expect(initializers).not.toContain('shared_gates.1.weight');
    const m = onnxMetadata(mixtureBytes);
    expect(JSON.parse(m.outputs)).toEqual(onnxOutputs(model));
    expect(JSON.parse(m.multitask)).toEqual(JSON.parse(model.metadataJSON()));
  });
});
