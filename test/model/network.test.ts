import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/kernels/js.js';
import { LOSS_COUNT, LOSS_STATS_LENGTH, LOSS_SUM } from '../../src/kernels/types.js';
import { buildLayout, segmentsFor, segmentsLength } from '../../src/model/layout.js';
import { taskGradients, Workspace } from '../../src/model/network.js';
import { ParameterStore, viewTensors } from '../../src/model/parameters.js';
import { expectClose, fixture, fixtureSpec, fixtureTargets, rows, taskNames } from '../helpers/torch-fixture.js';

const spec = fixtureSpec();
const k = jsKernels;

function setup() {
  const params = ParameterStore.create(spec, 1);
  params.load(fixture.parameters);
  const ws = new Workspace(spec, rows);
  const all = Int32Array.from({ length: rows }, (_, i) => i);
  k.gatherRows(spec.inputWidth, Float32Array.from(fixture.inputs), all, 0, rows, ws.x);
  taskNames.forEach((name, t) => ws.heads[t].target.set(fixtureTargets(name)));
  return { params, ws };
}

const labelled = (name: string) => fixture.targets[name].filter((v) => v !== null).length;

/** Gradient of Σ scale_t · Σ_rows loss_t over the tasks given, as named arrays, plus the loss statistics. */
function gradients(tasks: number[], scales: number[]) {
  const { params, ws } = setup();
  const layout = params.layout;
  const segments = segmentsFor(layout, tasks);
  const payload = new Float32Array(segmentsLength(segments)).fill(NaN); // every covered value must be written
  const g = viewTensors(spec, layout, payload, segments);
  const stats = new Float64Array(LOSS_STATS_LENGTH * tasks.length);
  taskGradients(k, spec, params.tensors, g, ws, rows, tasks.map((task, j) => ({ task, gradScale: scales[j] })), stats);
  const full = new Float32Array(layout.total);
  let at = 0;
  for (const s of segments) {
    full.set(payload.subarray(at, at + s.length), s.offset);
    at += s.length;
  }
  const named: Record<string, Float32Array> = {};
  for (const e of layout.entries) named[e.name] = full.subarray(e.offset, e.offset + e.size);
  return { named, stats, payload };
}

describe('layout', () => {
  it('uses PyTorch names and [out, in] shapes, trunk first then each head', () => {
    const layout = buildLayout(spec);
    expect(layout.entries.map((e) => e.name)).toEqual(fixture.parameterOrder);
    expect(layout.entries.find((e) => e.name === 'heads.sex.hidden.weight')!.shape).toEqual([4, 6]);
    expect(layout.trunk).toEqual({ offset: 0, length: 5 * 7 + 7 + 7 * 6 + 6 });
    expect(segmentsFor(layout, [0, 1, 2])).toEqual([{ offset: 0, length: layout.total }]);
    expect(segmentsFor(layout, [2]).map((s) => s.length)).toEqual([layout.trunk.length, 7]);
  });
});

describe('task forward/backward against PyTorch (float64 reference)', () => {
  taskNames.forEach((name, t) => {
    it(`${name}: loss and gradient of the trunk and its head`, () => {
      const { named, stats, payload } = gradients([t], [1 / labelled(name)]);
      expect(payload.every(Number.isFinite)).toBe(true);
      expect(stats[LOSS_SUM] / stats[LOSS_COUNT]).toBeCloseTo(fixture.float64.losses[name], 5);
      expect(stats[LOSS_COUNT]).toBe(labelled(name));
      expectClose(named, fixture.float64.taskGrads[name], 1e-4, 2e-6);
    });
  });

  it('fused pass: one trunk backward gives the gradient of the weighted loss sum', () => {
    const all = taskNames.map((_, t) => t);
    const { named } = gradients(all, taskNames.map((n) => fixture.lossWeights[n] / labelled(n)));
    expectClose(named, fixture.float64.weightedGrad, 1e-4, 2e-6);
  });

  it('partial labels: unlabelled rows contribute nothing', () => {
    const sex = taskNames.indexOf('sex');
    const { stats } = gradients([sex], [1]);
    expect(stats[LOSS_COUNT]).toBe(labelled('sex'));
    expect(labelled('sex')).toBeLessThan(rows);
  });
});

describe('initialisation', () => {
  it('follows nn.Linear: U(−1/√fan_in, 1/√fan_in), seeded', () => {
    const a = ParameterStore.create(spec, 7);
    const b = ParameterStore.create(spec, 7);
    const c = ParameterStore.create(spec, 8);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
    for (const l of [...a.tensors.trunk, a.tensors.heads[1]!.hidden!]) {
      const bound = 1 / Math.sqrt(l.inWidth);
      for (const arr of [l.weight, l.bias]) {
        expect(Math.max(...arr.map(Math.abs))).toBeLessThanOrEqual(bound);
        expect(Math.max(...arr.map(Math.abs))).toBeGreaterThan(bound * 0.5);
      }
    }
  });

  it('rejects loading a tensor of the wrong size or name', () => {
    const p = ParameterStore.create(spec, 0);
    expect(() => p.load({ 'trunk.0.weight': [1, 2] })).toThrow(/trunk.0.weight has 2 values, expected 35/);
    expect(() => p.load({ 'trunk.9.weight': [1] })).toThrow(/unknown tensor "trunk.9.weight"/);
  });
});
