import { describe, expect, it } from 'vitest';
import {
  accuracy, argmaxRows, classProbabilities, f1Score, mae, r2, rmse, rocAuc, rocAucOvr, taskReport,
} from '../../src/model/metrics.js';

describe('classification metrics (hand-computed)', () => {
  it('accuracy', () => {
    expect(accuracy([0, 1, 2, 1], [0, 2, 2, 1])).toBe(0.75);
    expect(accuracy([], [])).toBeNaN();
  });

  it('binary F1 is the positive class\'s: 2tp / (2tp + fp + fn)', () => {
    // tp 2, fp 0, fn 1 → 4/5
    expect(f1Score([0, 1, 1, 0, 1], [0, 1, 0, 0, 1], 2)).toBeCloseTo(0.8, 12);
    // tp 1, fp 1, fn 1 → 2/4
    expect(f1Score([1, 0, 1, 0], [1, 1, 0, 0], 2)).toBeCloseTo(0.5, 12);
  });

  it('macro F1 averages the per-class F1 (scikit-learn\'s example: 0.2667)', () => {
    // class 0: tp 2, fp 1 → 0.8; classes 1 and 2: no true positive → 0
    expect(f1Score([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1], 3)).toBeCloseTo(0.8 / 3, 12);
    // a class absent from labels and predictions does not count
    expect(f1Score([0, 1, 0, 1], [0, 1, 0, 1], 3)).toBe(1);
  });

  it('binary AUC (scikit-learn\'s example: 0.75), ties count half', () => {
    expect(rocAuc([false, false, true, true], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75, 12);
    expect(rocAuc([false, true], [0.5, 0.5])).toBe(0.5);
    expect(rocAuc([true, true], [0.2, 0.3])).toBeNaN();
  });

  it('one-vs-rest macro AUC', () => {
    const probabilities = [
      0.8, 0.1, 0.1,
      0.2, 0.6, 0.2,
      0.1, 0.3, 0.6,
      0.3, 0.5, 0.2,
    ];
    // class 0: 1; class 1: 1; class 2: positives .6, .2 against negatives .1, .2 → (1 + 1 + 1 + ½) / 4
    expect(rocAucOvr([0, 1, 2, 2], probabilities, 3)).toBeCloseTo((1 + 1 + 0.875) / 3, 12);
  });

  it('probabilities from head outputs', () => {
    const p = classProbabilities('cross_entropy', [0, Math.log(3), 0, 0], 2);
    expect(Array.from(p)).toEqual([0.25, 0.75, 0.5, 0.5].map((x) => expect.closeTo(x, 12)));
    expect(Array.from(classProbabilities('bce_with_logits', [0], 1))).toEqual([0.5, 0.5]);
    expect(Array.from(classProbabilities('bce', [0.9], 1))).toEqual([expect.closeTo(0.1, 12), 0.9]);
    expect(Array.from(argmaxRows([0.5, 0.5, 0.2, 0.8], 2))).toEqual([0, 1]);
  });
});

describe('regression metrics (scikit-learn\'s example)', () => {
  const y = [3, -0.5, 2, 7];
  const p = [2.5, 0, 2, 8];
  it('RMSE, MAE, R²', () => {
    expect(rmse(y, p)).toBeCloseTo(Math.sqrt(0.375), 12);
    expect(mae(y, p)).toBeCloseTo(0.5, 12);
    expect(r2(y, p)).toBeCloseTo(0.9486081370449679, 12);
    expect(r2([1, 1], [1, 2])).toBeNaN();
  });
});

describe('taskReport', () => {
  it('leaves out unlabelled rows and reads raw outputs', () => {
    // logits: rows predict 1, 0, 1 (NaN label), 1: tp 1, fp 1, fn 0 → F1 2/3
    const report = taskReport('bce_with_logits', [2, -1, 3, 0.5], 1, [1, 0, NaN, 0]);
    expect(report).toEqual({ kind: 'classification', count: 3, accuracy: expect.closeTo(2 / 3, 12), f1: expect.closeTo(2 / 3, 12), auc: 1 });
    const reg = taskReport('mse', [2.5, 0, 99, 2, 8], 1, [3, -0.5, NaN, 2, 7]);
    expect(reg).toEqual({ kind: 'regression', count: 4, rmse: expect.closeTo(Math.sqrt(0.375), 12), mae: expect.closeTo(0.5, 12), r2: expect.closeTo(0.9486081370449679, 12) });
    const multi = taskReport('cross_entropy', [5, 0, 0, 0, 5, 0, 0, 0, 5], 3, [0, 1, 1]);
    expect(multi.kind === 'classification' && multi.accuracy).toBeCloseTo(2 / 3, 12);
  });
});
