import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/kernels/js.js';
import { LOSS_COUNT, LOSS_STATS_LENGTH, LOSS_SUM, type Activation, type LossKind } from '../../src/kernels/types.js';
import { buildLayout, segmentsFor, segmentsLength, type ParameterLayout } from '../../src/model/layout.js';
import { softmaxBackwardRow, softmaxRows } from '../../src/model/mixture.js';
import { forwardHead, forwardTrunk, taskGradients, Workspace } from '../../src/model/network.js';
import { ParameterStore, viewTensors } from '../../src/model/parameters.js';
import { validateModelSpec, type LayerSpec, type ModelSpec } from '../../src/model/spec.js';
import { expectClose } from '../helpers/torch-fixture.js';
import { SPECS } from '../helpers/mixture-specs.js';
import { centralDiff, refAct, refLoss, Rng } from '../kernels/reference.js';

const k = jsKernels;
const ROWS = 7;

/** Inputs and targets (b has two unlabelled rows). */
function data(spec: ModelSpec) {
  const rng = new Rng(5, 1);
  const x = Float32Array.from({ length: ROWS * spec.inputWidth }, () => rng.uniform(-2, 2));
  const targets = [
    Float32Array.from({ length: ROWS }, () => rng.uniform(-1, 1)),
    Float32Array.from({ length: ROWS }, (_, r) => (r === 2 || r === 5 ? NaN : rng.uniform(0, 1) > 0.5 ? 1 : 0)),
    Float32Array.from({ length: ROWS }, () => Math.floor(rng.uniform(0, 3))),
  ];
  return { x, targets };
}

/**
 * The model in float64, written from the papers by tensor name (independent of
 * mixture-layout.ts): returns each task's predictions and each gate's weights.
 */
function reference(spec: ModelSpec, named: Record<string, ArrayLike<number>>, x: ArrayLike<number>) {
  const m = spec.mixture!;
  const gates: Record<string, Float64Array> = {};
  const linear = (name: string, input: Float64Array, inW: number, outW: number, act: Activation) => {
    const w = named[`${name}.weight`], b = named[`${name}.bias`];
    const out = new Float64Array(ROWS * outW);
    for (let r = 0; r < ROWS; r++) for (let o = 0; o < outW; o++) {
      let z = b[o];
      for (let i = 0; i < inW; i++) z += w[o * inW + i] * input[r * inW + i];
      out[r * outW + o] = refAct(act, z);
    }
    return out;
  };
  const mlp = (prefix: string, input: Float64Array, inW: number, layers: LayerSpec[]) => {
    let h = input, w = inW;
    layers.forEach((l, j) => { h = linear(`${prefix}.${j}`, h, w, l.units, l.activation); w = l.units; });
    return h;
  };
  const D = m.expert[m.expert.length - 1].units;
  const mix = (gate: string, input: Float64Array, inW: number, experts: Float64Array[]) => {
    const n = experts.length;
    const z = linear(gate, input, inW, n, 'identity');
    const p = new Float64Array(ROWS * n);
    const out = new Float64Array(ROWS * D);
    for (let r = 0; r < ROWS; r++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.exp(z[r * n + i]);
      for (let i = 0; i < n; i++) p[r * n + i] = Math.exp(z[r * n + i]) / s;
      for (let d = 0; d < D; d++) for (let i = 0; i < n; i++) out[r * D + d] += p[r * n + i] * experts[i][r * D + d];
    }
    gates[gate] = p;
    return out;
  };
  const x64 = Float64Array.from(x);
  const names = spec.tasks.map((t) => t.name);
  let inputs: Float64Array[];
  if (m.architecture === 'mmoe') {
    const experts = Array.from({ length: m.experts }, (_, e) => mlp(`experts.${e}`, x64, spec.inputWidth, m.expert));
    inputs = names.map((t) => mix(`gates.${t}`, x64, spec.inputWidth, experts));
  } else {
    inputs = names.map(() => x64);
    let shared = x64;
    for (let l = 0; l < m.levels; l++) {
      const inW = l === 0 ? spec.inputWidth : D;
      const own = names.map((t, ti) => Array.from({ length: m.taskExperts }, (_, e) => mlp(`experts.${t}.${l}.${e}`, inputs[ti], inW, m.expert)));
      const sh = Array.from({ length: m.experts }, (_, e) => mlp(`shared_experts.${l}.${e}`, shared, inW, m.expert));
      const next = names.map((t, ti) => mix(`gates.${t}.${l}`, inputs[ti], inW, [...own[ti], ...sh]));
      if (l < m.levels - 1) shared = mix(`shared_gates.${l}`, shared, inW, [...own.flat(), ...sh]);
      inputs = next;
    }
  }
  const preds = spec.tasks.map((task, t) => {
    const hidden = mlp(`towers.${task.name}`, inputs[t], D, m.tower);
    const w = m.tower.length ? m.tower[m.tower.length - 1].units : D;
    return linear(`towers.${task.name}.${m.tower.length}`, hidden, w, task.outputs, task.loss === 'bce' ? 'sigmoid' : 'identity');
  });
  return { preds, gates };
}

/** Σ_tasks scale_t · Σ_rows loss_t in float64. */
function referenceLoss(spec: ModelSpec, named: Record<string, ArrayLike<number>>, x: ArrayLike<number>,
  targets: Float32Array[], tasks: number[], scales: number[]): number {
  const { preds } = reference(spec, named, x);
  return tasks.reduce((sum, t, j) => sum + scales[j] * refLoss(spec.tasks[t].loss as LossKind, ROWS, spec.tasks[t].outputs, preds[t], targets[t]).sum, 0);
}

function setup(spec: ModelSpec) {
  const params = ParameterStore.create(spec, 3);
  const ws = new Workspace(spec, ROWS);
  const { x, targets } = data(spec);
  ws.x.set(x);
  targets.forEach((y, t) => ws.heads[t].target.set(y));
  return { params, ws, x, targets };
}

/** The analytic gradient(s) as whole vectors; every covered value must be written (payload NaN-filled). */
function analytic(spec: ModelSpec, tasks: number[], scales: number[], separate: boolean) {
  const { params, ws } = setup(spec);
  const layout = params.layout;
  const parts = separate ? tasks.map((t) => [t]) : [tasks];
  const payloads = parts.map((p) => new Float32Array(segmentsLength(segmentsFor(layout, p))).fill(NaN));
  const views = parts.map((p, i) => viewTensors(spec, layout, payloads[i], segmentsFor(layout, p)));
  taskGradients(k, spec, params.tensors, separate ? views : views[0], ws, ROWS,
    tasks.map((task, j) => ({ task, gradScale: scales[j] })), new Float64Array(LOSS_STATS_LENGTH * tasks.length));
  return parts.map((p, i) => {
    const full = new Float64Array(layout.total); // uncovered: exactly 0
    let at = 0;
    for (const s of segmentsFor(layout, p)) {
      full.set(payloads[i].subarray(at, at + s.length), s.offset);
      at += s.length;
    }
    return { full, payload: payloads[i] };
  });
}

/** The central-difference gradient of the float64 reference loss w.r.t. every parameter. */
function numeric(spec: ModelSpec, layout: ParameterLayout, tasks: number[], scales: number[]): Float64Array {
  const { params, x, targets } = setup(spec);
  const theta = Float64Array.from(params.data);
  const named = () => Object.fromEntries(layout.entries.map((e) => [e.name, theta.subarray(e.offset, e.offset + e.size)]));
  const g = new Float64Array(layout.total);
  for (let i = 0; i < layout.total; i++) {
    const keep = theta[i];
    g[i] = centralDiff((v) => {
      theta[i] = v;
      const loss = referenceLoss(spec, named(), x, targets, tasks, scales);
      theta[i] = keep;
      return loss;
    }, keep, 1e-5);
  }
  return g;
}

function expectGradClose(layout: ParameterLayout, got: Float64Array, want: Float64Array): void {
  for (const e of layout.entries) {
    for (let i = 0; i < e.size; i++) {
      const g = got[e.offset + i], w = want[e.offset + i];
      if (!(Math.abs(g - w) <= 2e-3 * Math.abs(w) + 2e-5)) {
        throw new Error(`${e.name}[${i}]: analytic ${g}, finite difference ${w}`);
      }
    }
  }
}

describe('gate softmax', () => {
  it('forward sums to 1 per row; backward matches finite differences in float64', () => {
    const rng = new Rng(9, 2);
    const n = 5;
    const z = Float32Array.from({ length: 2 * n }, () => rng.uniform(-3, 3));
    const p = new Float32Array(2 * n);
    softmaxRows(2, n, z, p, new Float64Array(n));
    expect(p[0] + p[1] + p[2] + p[3] + p[4]).toBeCloseTo(1, 6);
    const c = Float64Array.from({ length: n }, () => rng.uniform(-1, 1));
    // f(z) = Σ_i c_i · softmax(z)_i of row 1, in float64
    const f = (row: Float64Array) => {
      const e = row.map(Math.exp);
      const s = e.reduce((a, b) => a + b, 0);
      return e.reduce((a, v, i) => a + c[i] * v / s, 0);
    };
    const dz = new Float32Array(2 * n);
    softmaxBackwardRow(n, p, n, c, dz);
    const row = Float64Array.from(z.subarray(n));
    for (let i = 0; i < n; i++) {
      const fd = centralDiff((v) => { const r = row.slice(); r[i] = v; return f(r); }, row[i], 1e-6);
      expect(Math.abs(dz[n + i] - fd)).toBeLessThan(1e-6);
    }
  });
});

describe.each(Object.keys(SPECS))('%s', (name) => {
  const spec = SPECS[name];
  const layout = buildLayout(spec);
  const T = spec.tasks.length;

  it('forward matches the float64 reference (predictions)', () => {
    const { params, ws, x } = setup(spec);
    const features = forwardTrunk(k, spec, params.tensors, ws, ROWS);
    const { preds } = reference(spec, params.named(), x);
    spec.tasks.forEach((task, t) => {
      const pred = forwardHead(k, spec, t, params.tensors, ws, features, ROWS);
      for (let i = 0; i < ROWS * task.outputs; i++) expect(Math.abs(pred[i] - preds[t][i])).toBeLessThan(2e-6);
    });
  });

  it.each(spec.tasks.map((t, i) => [t.name, i]))('task %s alone: gradient matches finite differences and stays in the shared + own segments', (_, t) => {
    const [{ full }] = analytic(spec, [t as number], [0.3], false);
    const fd = numeric(spec, layout, [t as number], [0.3]);
    expect(full.every(Number.isFinite)).toBe(true);
    expectGradClose(layout, full, fd);
    // the layout's claim: outside the shared segment and its own, a task's loss reaches nothing
    layout.heads.forEach((seg, u) => {
      if (u === t) return;
      for (let i = seg.offset; i < seg.offset + seg.length; i++) expect(Math.abs(fd[i])).toBeLessThan(1e-9);
    });
  });

  it('fused pass (one backward) and separate passes give the weighted sum and each task\'s gradient', () => {
    const tasks = spec.tasks.map((_, t) => t);
    const scales = spec.tasks.map((task) => task.weight / ROWS);
    const [fused] = analytic(spec, tasks, scales, false);
    expect(fused.payload.every(Number.isFinite)).toBe(true);
    expectGradClose(layout, fused.full, numeric(spec, layout, tasks, scales));
    const separate = analytic(spec, tasks, scales, true);
    const sum = new Float64Array(layout.total);
    separate.forEach(({ full, payload }) => {
      expect(payload.every(Number.isFinite)).toBe(true);
      full.forEach((v, i) => { sum[i] += v; });
    });
    for (let i = 0; i < layout.total; i++) expect(Math.abs(sum[i] - fused.full[i])).toBeLessThan(1e-6 + 1e-5 * Math.abs(fused.full[i]));
    expect(T).toBe(3);
  });
});

interface TorchMixture {
  spec: ModelSpec;
  parameterOrder: string[];
  parameters: Record<string, number[]>;
  predictions: Record<string, number[]>;
  losses: Record<string, number>;
  taskGrads: Record<string, Record<string, number[]>>;
  weightedGrad: Record<string, number[]>;
}
const torchFixture = JSON.parse(readFileSync(new URL('../fixtures/torch/mixture-grad.json', import.meta.url), 'utf8')) as {
  inputs: number[]; targets: Record<string, (number | null)[]>; lossWeights: Record<string, number>; models: Record<string, TorchMixture>;
};

describe.each(Object.keys(torchFixture.models))('%s against PyTorch (scripts/torch-reference/mixture_grad.py, float64)', (name) => {
  const model = torchFixture.models[name];
  const spec = validateModelSpec(model.spec);
  const rows = torchFixture.targets.species.length;
  const labelled = (task: string) => torchFixture.targets[task].filter((v) => v !== null).length;

  function torchSetup() {
    const params = ParameterStore.create(spec, 0);
    params.load(model.parameters, 'mixture-grad.json');
    const ws = new Workspace(spec, rows);
    ws.x.set(torchFixture.inputs);
    spec.tasks.forEach((task, t) => ws.heads[t].target.set(torchFixture.targets[task.name].map((v) => v ?? NaN)));
    return { params, ws };
  }

  /** Gradient as named whole tensors (0 outside the payload's segments). */
  function torchGradient(tasks: number[], scales: number[]) {
    const { params, ws } = torchSetup();
    const layout = params.layout;
    const segments = segmentsFor(layout, tasks);
    const payload = new Float32Array(segmentsLength(segments)).fill(NaN);
    const stats = new Float64Array(LOSS_STATS_LENGTH * tasks.length);
    taskGradients(k, spec, params.tensors, viewTensors(spec, layout, payload, segments), ws, rows,
      tasks.map((task, j) => ({ task, gradScale: scales[j] })), stats);
    const full = new Float32Array(layout.total);
    let at = 0;
    for (const s of segments) {
      full.set(payload.subarray(at, at + s.length), s.offset);
      at += s.length;
    }
    return { named: Object.fromEntries(layout.entries.map((e) => [e.name, full.subarray(e.offset, e.offset + e.size)])), stats };
  }

  it('has exactly the PyTorch module\'s tensor names and shapes (load_state_dict strict=True)', () => {
    const layout = buildLayout(spec);
    expect(layout.entries.map((e) => e.name).sort()).toEqual([...model.parameterOrder].sort());
    for (const e of layout.entries) expect(e.size).toBe(model.parameters[e.name].length);
  });

  it('predictions', () => {
    const { params, ws } = torchSetup();
    const features = forwardTrunk(k, spec, params.tensors, ws, rows);
    spec.tasks.forEach((task, t) => {
      const pred = forwardHead(k, spec, t, params.tensors, ws, features, rows);
      expectClose({ [task.name]: pred.subarray(0, rows * task.outputs) }, { [task.name]: model.predictions[task.name] }, 1e-4, 2e-6);
    });
  });

  it('each task\'s loss and gradient (every parameter; zero outside the shared and the task\'s segment)', () => {
    spec.tasks.forEach((task, t) => {
      const { named, stats } = torchGradient([t], [1 / labelled(task.name)]);
      expect(stats[LOSS_SUM] / stats[LOSS_COUNT]).toBeCloseTo(model.losses[task.name], 5);
      expectClose(named, model.taskGrads[task.name], 1e-4, 2e-6);
    });
  });

  it('fused: the gradient of the weighted loss sum in one backward', () => {
    const all = spec.tasks.map((_, t) => t);
    const { named } = torchGradient(all, spec.tasks.map((task) => torchFixture.lossWeights[task.name] / labelled(task.name)));
    expectClose(named, model.weightedGrad, 1e-4, 2e-6);
  });
});
