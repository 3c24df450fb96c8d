/**
 * What every strategy must do, on every backend: finite output of the right length
 * in the `out` buffer, inputs and state left untouched, weights that reproduce the
 * update, deterministic, serializable state, and (for the seeded ones) the same
 * output for the same (seed, step) and a different one for another seed.
 */

import { describe, expect, it } from 'vitest';
import { strategies, strategyNames, type AnyStrategy } from '../../src/strategies/index.js';
import { resolveOptions } from '../../src/strategies/options.js';
import { backends, comboErr, randomGrads, Rng, run } from './helpers.js';

const names = strategyNames() as (keyof typeof strategies)[];
const losses = (T: number): number[] => Array.from({ length: T }, (_, i) => 0.5 + i * 0.7);

describe('the registry', () => {
  it('lists every strategy with its documentation fields', () => {
    expect(names).toEqual([
      'sum', 'mean', 'pcgrad', 'mgda', 'cagrad', 'imtlg', 'aligned_mtl', 'upgrad', 'dualproj', 'gradvac',
      'graddrop', 'nashmtl', 'fairgrad', 'fixed', 'uncertainty', 'dwa', 'rlw', 'gradnorm',
    ]);
    for (const name of names) {
      const s: AnyStrategy = strategies[name];
      expect(s.name).toBe(name);
      for (const field of [s.summary, s.citation, s.scale]) {
        expect(field.length).toBeGreaterThan(3);
        expect(field).not.toContain('\n');
      }
      expect(Object.keys(s.options).sort()).toEqual(Object.keys(s.defaults).sort());
    }
    const seeded = names.filter((n) => strategies[n].seeded);
    expect(seeded).toEqual(['pcgrad', 'gradvac', 'graddrop', 'rlw']);
    expect(names.filter((n) => !strategies[n].gramOnly)).toEqual(['graddrop']);
  });
});

for (const [label, kernels] of backends()) {
  describe(`every strategy (${label} kernels)`, () => {
    for (const name of names) {
      const s: AnyStrategy = strategies[name];
      it(`${name}: finite update of the right length, inputs untouched, weights reproduce it`, () => {
        const rng = new Rng(11);
        for (const [T, n] of [[1, 5], [2, 37], [3, 37], [5, 64], [6, 3]]) {
          const grads = randomGrads(rng, T, n, Array.from({ length: T }, (_, i) => 1 + i));
          const copies = grads.map((g) => g.slice());
          const options = resolveOptions(s, {});
          const state = s.init(T, n, options);
          const stateCopy = structuredClone(state);
          const r = run(kernels, name, grads, { state, losses: losses(T), seed: 3, step: 2 });
          expect(r.update.length).toBe(n);
          expect(r.update.every(Number.isFinite), `${name} T=${T}`).toBe(true);
          grads.forEach((g, i) => expect(g).toEqual(copies[i]));
          expect(state).toEqual(stateCopy);
          expect(structuredClone(r.state)).toEqual(r.state);
          if (r.weights !== null) {
            expect(r.weights.length).toBe(T);
            expect(comboErr(r.update, grads, r.weights), `${name} T=${T}`).toBeLessThan(1e-6);
          } else {
            expect(s.gramOnly).toBe(false);
          }
          // the same call again: the same bits
          const again = run(kernels, name, grads, { state: stateCopy, losses: losses(T), seed: 3, step: 2 });
          expect(again.update).toEqual(r.update);
        }
      });

      it(`${name}: writes into the given buffer, and rejects one that overlaps a gradient`, () => {
        const rng = new Rng(12);
        const buffer = new Float32Array(3 * 10);
        const grads = [buffer.subarray(0, 10), buffer.subarray(10, 20)];
        grads.forEach((g) => g.set(randomGrads(rng, 1, 10)[0]));
        const options = resolveOptions(s, {});
        const input = {
          grads, gram: new Float64Array([1, 0, 0, 1]), losses: Float64Array.from([1, 2]), step: 0,
          rng: new Rng(0), kernels,
        };
        const out = buffer.subarray(20, 30);
        expect(s.combine(input, s.init(2, 10, options), options, out).update).toBe(out);
        expect(() => s.combine(input, s.init(2, 10, options), options, buffer.subarray(5, 15))).toThrow(/overlaps/);
      });
    }

    it('seeded strategies: same (seed, step) → same bits; another seed or step → a different update', () => {
      const rng = new Rng(13);
      const grads = randomGrads(rng, 5, 40);
      // make every pair conflict for some elements and in direction: alternate signs
      grads[1] = grads[0].map((v, i) => -v + 0.3 * grads[1][i]);
      grads[3] = grads[2].map((v, i) => -v + 0.3 * grads[3][i]);
      for (const name of ['pcgrad', 'gradvac', 'graddrop', 'rlw'] as const) {
        const a = run(kernels, name, grads, { seed: 7, step: 4 }).update;
        const b = run(kernels, name, grads, { seed: 7, step: 4 }).update;
        const c = run(kernels, name, grads, { seed: 8, step: 4 }).update;
        const d = run(kernels, name, grads, { seed: 7, step: 5 }).update;
        expect(b, name).toEqual(a);
        expect(c, name).not.toEqual(a);
        expect(d, name).not.toEqual(a);
      }
    });

    it('unseeded strategies ignore the rng', () => {
      const rng = new Rng(14);
      const grads = randomGrads(rng, 4, 20);
      for (const name of names.filter((n) => !strategies[n].seeded)) {
        const a = run(kernels, name, grads, { seed: 1, losses: losses(4) }).update;
        const b = run(kernels, name, grads, { seed: 2, losses: losses(4) }).update;
        expect(b, name).toEqual(a);
      }
    });
  });
}
