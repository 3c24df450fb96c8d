import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/kernels/js.js';
import { createNativeKernels, nativeIsas } from '../../src/kernels/native.js';
import type { Kernels } from '../../src/kernels/types.js';
import {
  createOptimizer, resolveOptimizerConfig, validateOptimizerConfig,
  type Optimizer, type OptimizerConfig, type Segment,
} from '../../src/optim/index.js';
import { UserError } from '../../src/util/errors.js';

/** test/fixtures/torch/optimizers.json, written by scripts/torch-reference/optimizers.py. */
interface Fixture {
  torch: string;
  params: number[];
  grads: number[][];
  cases: {
    name: string;
    config: OptimizerConfig;
    lrs?: number[];
    steps: number[][];
    state: Record<string, number[]>;
  }[];
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/torch/optimizers.json', import.meta.url), 'utf8'),
) as Fixture;
const N = fixture.params.length;
const grads = fixture.grads.map((g) => Float32Array.from(g));
const whole: Segment[] = [{ offset: 0, length: N }];

// Tolerance against PyTorch: float32 rounding in a different operation order
// (PyTorch rounds after every tensor op; the kernels round once per stored value).
const REL = 1e-6;
const ABS = 1e-7;
type Worst = { abs: number; rel: number; where: string };
/** Largest differences seen, by "backend kind" (kind: params or state). */
const worst = new Map<string, Worst>();
let backendLabel = 'js';

/**
 * |actual − expected| ≤ ABS + REL·max(|expected|, scale[i]). `scale` gives the
 * magnitude of the terms summed into a value: a parameter that came down from
 * large values, or a momentum buffer that is a small difference of large
 * gradients, carries the float32 rounding of the large terms.
 */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string,
  scale?: ArrayLike<number>, kind: 'params' | 'state' = 'params'): void {
  expect(actual.length).toBe(expected.length);
  const key = `${backendLabel} ${kind}`;
  let w = worst.get(key);
  if (!w) worst.set(key, (w = { abs: 0, rel: 0, where: '' }));
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const d = Math.abs(a - e);
    const mag = Math.max(Math.abs(e), scale ? scale[i] : 0);
    if (d > w.abs) {
      w.abs = d;
      w.where = `${what}[${i}]`;
    }
    if (mag !== 0) w.rel = Math.max(w.rel, d / mag);
    if (!(d <= ABS + REL * mag)) {
      expect.fail(`${what}[${i}]: got ${a}, PyTorch ${e} (difference ${d})`);
    }
  }
}

/** Per element, the largest |gradient| over the fixture's steps: the scale of the terms in the state buffers. */
const gradScale = fixture.params.map((_, i) => Math.max(...grads.map((g) => Math.abs(g[i]))));

function expectState(actual: Record<string, Float32Array>, expected: Record<string, number[]>, what: string): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [k, v] of Object.entries(expected)) {
    // v accumulates squared gradients
    const scale = k === 'v' ? gradScale.map((x) => x * x) : gradScale;
    expectClose(actual[k], v, `${what} state.${k}`, scale, 'state');
  }
}

function run(opt: Optimizer, params: Float32Array, steps: number, from = 0, lrs?: number[]): void {
  for (let t = from; t < from + steps; t++) opt.step(params, grads[t], lrs?.[t]);
}

// The TypeScript kernels, and the native ones for every instruction set this machine runs (if built).
const backends: [string, Kernels][] = [
  ['js', jsKernels],
  ...nativeIsas().map((isa): [string, Kernels] => [`native ${isa}`, createNativeKernels(isa)]),
];

describe('optimizers against torch.optim (PyTorch ' + fixture.torch + ')', () => {
  afterAll(() => {
    // Reported so the fixture comparison's margin is visible in the test log.
    for (const [key, w] of worst) {
      console.log(`optimizers vs PyTorch, ${key}: max |difference| ${w.abs.toExponential(3)} at ${w.where}, ` +
        `max relative difference ${w.rel.toExponential(3)}`);
    }
  });

  for (const [label, kernels] of backends) {
    describe(`${label} kernels`, () => {
      for (const c of fixture.cases) {
        it(c.name, () => {
          backendLabel = label;
          const opt = createOptimizer(c.config, whole, kernels);
          const params = Float32Array.from(fixture.params);
          // the largest |parameter| so far: a value that came down from 12 to 1 carries the rounding of 12
          const seen = fixture.params.map(Math.abs);
          for (let t = 0; t < c.steps.length; t++) {
            opt.step(params, grads[t], c.lrs?.[t]);
            expect(opt.stepCount).toBe(t + 1);
            c.steps[t].forEach((v, i) => { seen[i] = Math.max(seen[i], Math.abs(v)); });
            expectClose(params, c.steps[t], `${c.name} step ${t + 1}`, seen);
          }
          expectState(opt.state().buffers, c.state, c.name);
          backendLabel = 'js';
        });
      }
    });
  }
});

describe('hand-computed steps', () => {
  // Two elements, two steps: p0 = [1, -2], g1 = [0.5, 0.25], g2 = [-1, 2].
  const p0 = [1, -2];
  const g = [Float32Array.of(0.5, 0.25), Float32Array.of(-1, 2)];
  const close = (actual: Float32Array, expected: number[]) => {
    for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i], 6);
  };

  it('SGD Nesterov (lr 0.1, momentum 0.9, weight decay 0.01)', () => {
    const opt = createOptimizer({ name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
      [{ offset: 0, length: 2 }], jsKernels);
    const p = Float32Array.from(p0);
    // step 1, element 0: d = 0.5 + 0.01·1 = 0.51; b = d = 0.51 (first step);
    //   d = d + 0.9·b = 0.969; p = 1 − 0.1·0.969 = 0.9031
    // element 1: d = 0.25 + 0.01·(−2) = 0.23; b = 0.23; d = 0.23 + 0.207 = 0.437; p = −2 − 0.0437 = −2.0437
    opt.step(p, g[0]);
    close(p, [0.9031, -2.0437]);
    // step 2, element 0: d = −1 + 0.01·0.9031 = −0.990969; b = 0.9·0.51 + d = −0.531969;
    //   d = d + 0.9·b = −1.4697411; p = 0.9031 + 0.14697411 = 1.05007411
    // element 1: d = 2 + 0.01·(−2.0437) = 1.979563; b = 0.9·0.23 + d = 2.186563;
    //   d = d + 0.9·b = 3.9474697; p = −2.0437 − 0.39474697 = −2.43844697
    opt.step(p, g[1]);
    close(p, [1.05007411, -2.43844697]);
    close(opt.state().buffers.momentum, [-0.531969, 2.186563]);
  });

  it('AdamW (lr 0.01, weight decay 0.1, betas 0.9/0.999, eps 1e-8)', () => {
    const opt = createOptimizer({ name: 'adamw', lr: 0.01, weightDecay: 0.1 }, [{ offset: 0, length: 2 }], jsKernels);
    const p = Float32Array.from(p0);
    // step 1 (bc1 = 0.1, bc2 = 0.001), element 0: p = 1·(1 − 0.01·0.1) = 0.999; m = 0.1·0.5 = 0.05;
    //   v = 0.001·0.25 = 0.00025; denom = √v/√bc2 + eps = 0.5 + 1e-8;
    //   p = 0.999 − (0.01/0.1)·0.05/denom = 0.999 − 0.0099999998 = 0.9890000002
    // element 1: p = −1.998; m = 0.025; v = 6.25e−5; denom = 0.25 + 1e-8; p = −1.998 − 0.0099999996 = −2.0079999996
    opt.step(p, g[0]);
    close(p, [0.9890000002, -2.0079999996]);
    // step 2 (bc1 = 0.19, bc2 = 0.001999), element 0: p = 0.9890000002·0.999 = 0.9880110002;
    //   m = 0.9·0.05 + 0.1·(−1) = −0.055; v = 0.999·0.00025 + 0.001·1 = 0.00124975;
    //   denom = √(0.00124975/0.001999) + 1e-8 = 0.7906880609;
    //   p = 0.9880110002 − (0.01/0.19)·(−0.055)/denom = 0.9880110002 + 0.0036610352 = 0.9916720354
    // element 1: p = −2.0079999996·0.999 = −2.0059919996; m = 0.0225 + 0.2 = 0.2225;
    //   v = 0.999·6.25e−5 + 0.001·4 = 0.0040624375; denom = 1.4255647639;
    //   p = −2.0059919996 − (0.01/0.19)·0.2225/denom = −2.0059919996 − 0.0082146575 = −2.0142066571
    opt.step(p, g[1]);
    close(p, [0.9916720354, -2.0142066571]);
    close(opt.state().buffers.m, [-0.055, 0.2225]);
    close(opt.state().buffers.v, [0.00124975, 0.0040624375]);
  });
});

describe('segments', () => {
  // The fixture's 20 values spread over three segments of a 32-element buffer.
  const segments: Segment[] = [{ offset: 2, length: 6 }, { offset: 12, length: 9 }, { offset: 27, length: 5 }];
  const scatter = (src: ArrayLike<number>, fill: number) => {
    const out = new Float32Array(32).fill(fill);
    let k = 0;
    for (const s of segments) for (let i = 0; i < s.length; i++) out[s.offset + i] = src[k++];
    return out;
  };
  const gather = (src: Float32Array) => segments.flatMap((s) => Array.from(src.subarray(s.offset, s.offset + s.length)));

  for (const name of ['sgd momentum dampening wd', 'adam wd', 'adamw wd']) {
    it(`${name}: same as one segment, gaps untouched`, () => {
      const c = fixture.cases.find((x) => x.name === name)!;
      const opt = createOptimizer(c.config, segments, jsKernels);
      const params = scatter(fixture.params, 7.5);
      const before = params.slice();
      const segGrads = grads.map((gr) => scatter(gr, NaN)); // gap gradients are never read
      for (let t = 0; t < c.steps.length; t++) {
        opt.step(params, segGrads[t]);
        expectClose(gather(params), c.steps[t], `${name} (segments) step ${t + 1}`);
      }
      for (let i = 0; i < 32; i++) {
        if (!segments.some((s) => i >= s.offset && i < s.offset + s.length)) expect(params[i]).toBe(before[i]);
      }
      // state buffers are the segments back to back
      expectState(opt.state().buffers, c.state, `${name} (segments)`);
    });
  }

  it('a different params array gets its own views', () => {
    const c = fixture.cases.find((x) => x.name === 'sgd plain')!;
    const opt = createOptimizer(c.config, segments, jsKernels);
    const a = scatter(fixture.params, 0);
    const b = scatter(fixture.params, 0);
    const ga = scatter(grads[0], 0);
    opt.step(a, ga);
    opt.step(b, scatter(grads[0], 0)); // new params and new grad arrays
    expect(b).toEqual(a);
    opt.step(a, ga); // back to the first
    expectClose(gather(a), fixture.params.map((p, i) => p - 0.1 * grads[0][i] * 2), 'sgd plain twice');
  });

  it('rejects overlapping segments and short arrays', () => {
    const cfg: OptimizerConfig = { name: 'sgd', lr: 0.1 };
    expect(() => createOptimizer(cfg, [{ offset: 0, length: 5 }, { offset: 4, length: 2 }], jsKernels)).toThrow(/overlap/);
    expect(() => createOptimizer(cfg, [{ offset: -1, length: 5 }], jsKernels)).toThrow(RangeError);
    expect(() => createOptimizer(cfg, [{ offset: 0, length: 1.5 }], jsKernels)).toThrow(RangeError);
    const opt = createOptimizer(cfg, [{ offset: 10, length: 5 }], jsKernels);
    expect(() => opt.step(new Float32Array(14), new Float32Array(15))).toThrow(/parameter array has 14 elements; the segments need 15/);
    expect(() => opt.step(new Float32Array(15), new Float32Array(12))).toThrow(/gradient array/);
  });

  it('no segments: a no-op', () => {
    const opt = createOptimizer({ name: 'adam', lr: 1e-3 }, [], jsKernels);
    const p = Float32Array.of(1, 2);
    opt.step(p, Float32Array.of(1, 1));
    expect(p).toEqual(Float32Array.of(1, 2));
    expect(opt.stepCount).toBe(1);
  });
});

describe('state() / loadState()', () => {
  for (const name of ['sgd momentum dampening wd', 'sgd nesterov wd', 'adam defaults', 'adamw wd']) {
    it(`${name}: a restored optimizer continues identically`, () => {
      const c = fixture.cases.find((x) => x.name === name)!;
      const a = createOptimizer(c.config, whole, jsKernels);
      const pa = Float32Array.from(fixture.params);
      run(a, pa, 2);
      // through structured clone, as a checkpoint or a worker message would carry it
      const saved = structuredClone(a.state());
      expect(saved.stepCount).toBe(2);
      const b = createOptimizer(c.config, whole, jsKernels);
      b.loadState(saved);
      expect(b.stepCount).toBe(2);
      const pb = pa.slice();
      run(a, pa, 3, 2);
      run(b, pb, 3, 2);
      expect(pb).toEqual(pa); // bit for bit
      expect(b.state()).toEqual(a.state());
      expectClose(pb, c.steps[4], `${name} restored step 5`);
    });
  }

  it('state() is a copy', () => {
    const opt = createOptimizer({ name: 'adam', lr: 1e-3 }, whole, jsKernels);
    const p = Float32Array.from(fixture.params);
    run(opt, p, 1);
    const s = opt.state();
    const m = s.buffers.m.slice();
    run(opt, p, 1, 1);
    expect(s.buffers.m).toEqual(m);
    expect(s.stepCount).toBe(1);
  });

  it('loading a step-0 state makes the next SGD step initialise the momentum buffer', () => {
    const c = fixture.cases.find((x) => x.name === 'sgd momentum dampening wd')!;
    const fresh = createOptimizer(c.config, whole, jsKernels).state();
    const opt = createOptimizer(c.config, whole, jsKernels);
    run(opt, Float32Array.from(fixture.params), 2);
    opt.loadState(fresh);
    const p = Float32Array.from(fixture.params);
    run(opt, p, 2);
    expectClose(p, c.steps[1], 'sgd after reset step 2');
  });

  it('rejects a state of another optimizer or size', () => {
    const adam = createOptimizer({ name: 'adam', lr: 1e-3 }, whole, jsKernels);
    const sgd = createOptimizer({ name: 'sgd', lr: 0.1, momentum: 0.9 }, whole, jsKernels);
    const small = createOptimizer({ name: 'adam', lr: 1e-3 }, [{ offset: 0, length: 3 }], jsKernels);
    const plain = createOptimizer({ name: 'sgd', lr: 0.1 }, whole, jsKernels);
    expect(() => sgd.loadState(adam.state())).toThrow(/adam state/);
    expect(() => small.loadState(adam.state())).toThrow(/covers 20 elements, this optimizer 3/);
    expect(() => plain.loadState(sgd.state())).toThrow(/buffers \{momentum\}, expected \{\}/);
    const broken = adam.state();
    broken.buffers.v = new Float32Array(3);
    expect(() => adam.loadState(broken)).toThrow(/buffer v/);
  });
});

describe('learning-rate override', () => {
  it('step(p, g, lr) equals an optimizer configured with that lr', () => {
    for (const name of ['sgd', 'adam', 'adamw'] as const) {
      const a = createOptimizer({ name, lr: 1e-3, momentum: name === 'sgd' ? 0.9 : undefined }, whole, jsKernels);
      const b = createOptimizer({ name, lr: 0.03, momentum: name === 'sgd' ? 0.9 : undefined }, whole, jsKernels);
      const pa = Float32Array.from(fixture.params);
      const pb = pa.slice();
      for (let t = 0; t < 3; t++) {
        a.step(pa, grads[t], 0.03);
        b.step(pb, grads[t]);
      }
      expect(pa).toEqual(pb);
      expect(a.config.lr).toBe(1e-3);
    }
  });

  it('lr 0 leaves plain SGD parameters unchanged; a bad lr throws', () => {
    const opt = createOptimizer({ name: 'sgd', lr: 0.1 }, whole, jsKernels);
    const p = Float32Array.from(fixture.params);
    opt.step(p, grads[0], 0);
    expect(p).toEqual(Float32Array.from(fixture.params));
    expect(() => opt.step(p, grads[0], -0.1)).toThrow(RangeError);
    expect(() => opt.step(p, grads[0], NaN)).toThrow(RangeError);
    expect(opt.stepCount).toBe(1);
  });
});

describe('config', () => {
  it('fills in PyTorch defaults', () => {
    expect(createOptimizer({ name: 'sgd', lr: 0.1 }, whole, jsKernels).config).toEqual({
      name: 'sgd', lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8,
    });
    expect(resolveOptimizerConfig({ name: 'adam', lr: 1e-3 })).toMatchObject({ betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
    expect(resolveOptimizerConfig({ name: 'adamw', lr: 1e-3 }).weightDecay).toBe(0.01);
    expect(resolveOptimizerConfig({ name: 'adamw', lr: 1e-3, weightDecay: 0 }).weightDecay).toBe(0);
  });

  it('a resolved config validates again unchanged', () => {
    for (const c of fixture.cases) {
      const r = resolveOptimizerConfig(c.config);
      expect(resolveOptimizerConfig(validateOptimizerConfig(JSON.parse(JSON.stringify(r)), 'checkpoint'))).toEqual(r);
    }
  });

  const bad: [string, unknown, RegExp][] = [
    ['not an object', 'adam', /cfg: optimizer config is "adam"; expected an object/],
    ['unknown name', { name: 'rmsprop', lr: 1 }, /cfg: optimizer field "name" is "rmsprop"; expected one of sgd, adam, adamw/],
    ['missing name', { lr: 1 }, /field "name" is undefined/],
    ['missing lr', { name: 'sgd' }, /field "lr" is undefined; expected a finite number > 0/],
    ['lr 0', { name: 'sgd', lr: 0 }, /field "lr" is 0; expected a finite number > 0/],
    ['negative lr', { name: 'adam', lr: -0.1 }, /field "lr" is -0.1/],
    ['infinite lr', { name: 'adam', lr: Infinity }, /field "lr" is Infinity/],
    ['string lr', { name: 'adam', lr: '0.1' }, /field "lr" is "0.1"/],
    ['negative momentum', { name: 'sgd', lr: 0.1, momentum: -0.5 }, /field "momentum" is -0.5; expected a finite number >= 0/],
    ['dampening > 1', { name: 'sgd', lr: 0.1, momentum: 0.9, dampening: 2 }, /field "dampening" is 2; expected a number in \[0, 1\]/],
    ['nesterov without momentum', { name: 'sgd', lr: 0.1, nesterov: true },
      /field "nesterov" is true; expected momentum > 0 and dampening 0 with nesterov \(got momentum 0, dampening 0\)/],
    ['nesterov with dampening', { name: 'sgd', lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true },
      /nesterov.*got momentum 0.9, dampening 0.1/],
    ['nesterov not boolean', { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: 'yes' }, /field "nesterov" is "yes"; expected true or false/],
    ['negative weight decay', { name: 'adamw', lr: 0.1, weightDecay: -1 }, /field "weightDecay" is -1; expected a finite number >= 0/],
    ['beta1 = 1', { name: 'adam', lr: 0.1, betas: [1, 0.999] }, /field "betas\[0\]" is 1; expected a number in \[0, 1\)/],
    ['negative beta2', { name: 'adam', lr: 0.1, betas: [0.9, -0.1] }, /field "betas\[1\]" is -0.1/],
    ['betas not a pair', { name: 'adam', lr: 0.1, betas: [0.9] }, /field "betas" is \[0.9\]; expected two numbers/],
    ['eps 0', { name: 'adam', lr: 0.1, eps: 0 }, /field "eps" is 0; expected a finite number > 0/],
    ['unknown field', { name: 'adam', lr: 0.1, amsgrad: true }, /field "amsgrad" is true; expected no such field/],
    ['momentum with adam', { name: 'adam', lr: 0.1, momentum: 0.9 }, /field "momentum" is 0.9; expected no momentum with adam/],
    ['betas with sgd', { name: 'sgd', lr: 0.1, betas: [0.5, 0.5] }, /field "betas" is \[0.5,0.5\]; expected no betas with sgd/],
  ];
  for (const [what, config, message] of bad) {
    it(`rejects ${what}`, () => {
      let err: unknown;
      try {
        validateOptimizerConfig(config, 'cfg');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('createOptimizer validates too', () => {
    expect(() => createOptimizer({ name: 'sgd', lr: -1 }, whole, jsKernels)).toThrow(UserError);
  });

  it('accepts options of the other family at their defaults (a resolved config)', () => {
    expect(validateOptimizerConfig({ name: 'adam', lr: 0.1, momentum: 0, nesterov: false, dampening: 0 }, 'cfg').name).toBe('adam');
    expect(validateOptimizerConfig({ name: 'sgd', lr: 0.1, betas: [0.9, 0.999], eps: 1e-8 }, 'cfg').name).toBe('sgd');
  });
});
