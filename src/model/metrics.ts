/**
 * Evaluation metrics (`Model.evaluate`, `multitask eval`), computed from predictions and
 * targets (scikit-learn's definitions):
 *
 * - accuracy: share of rows whose predicted class is the label.
 * - F1: binary tasks, F1 of the positive class (index 1); multi-class, the
 *   macro average of the per-class F1 over the classes that occur in the
 *   labels or the predictions (a class with no true or predicted positive
 *   scores 0 when it occurs at all) — f1_score(average='macro').
 * - AUC: binary, the area under the ROC curve of the positive-class score
 *   (Mann–Whitney statistic, ties counted half); multi-class, the macro
 *   average of one-vs-rest AUCs over the classes that have both positive and
 *   negative rows — roc_auc_score(multi_class='ovr', average='macro'). NaN
 *   when no class has both.
 * - RMSE, MAE, and R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (NaN for a constant target).
 */
import type { LossKind } from '../kernels/types.js';

/** Losses whose targets are class labels; the binary ones have one output (the positive class's). */
const isClassification = (loss: LossKind) => loss === 'cross_entropy' || isBinary(loss);
const isBinary = (loss: LossKind) => loss === 'bce_with_logits' || loss === 'bce';

export interface ClassificationReport {
  kind: 'classification';
  count: number;
  accuracy: number;
  f1: number;
  auc: number;
}

export interface RegressionReport {
  kind: 'regression';
  count: number;
  rmse: number;
  mae: number;
  r2: number;
}

export type TaskReport = ClassificationReport | RegressionReport;

export function accuracy(labels: ArrayLike<number>, predicted: ArrayLike<number>): number {
  if (labels.length === 0) return NaN;
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === predicted[i]) hits++;
  return hits / labels.length;
}

function f1Of(tp: number, fp: number, fn: number): number {
  const denominator = 2 * tp + fp + fn;
  return denominator === 0 ? 0 : (2 * tp) / denominator;
}

/** F1 of class `positive` (binary), or macro F1 over the classes 0..classes−1 present in labels or predictions. */
export function f1Score(labels: ArrayLike<number>, predicted: ArrayLike<number>, classes: number,
  average: 'binary' | 'macro' = classes === 2 ? 'binary' : 'macro', positive = 1): number {
  if (labels.length === 0) return NaN;
  const tp = new Float64Array(classes);
  const fp = new Float64Array(classes);
  const fn = new Float64Array(classes);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    const p = predicted[i];
    if (y === p) tp[y]++;
    else {
      fp[p]++;
      fn[y]++;
    }
  }
  if (average === 'binary') return f1Of(tp[positive], fp[positive], fn[positive]);
  let sum = 0;
  let present = 0;
  for (let c = 0; c < classes; c++) {
    if (tp[c] + fp[c] + fn[c] === 0) continue;
    sum += f1Of(tp[c], fp[c], fn[c]);
    present++;
  }
  return present === 0 ? NaN : sum / present;
}

/**
 * Binary ROC AUC of `scores` for `positive[i]` (true = positive row): the
 * probability that a random positive scores above a random negative, ties half.
 * NaN without both positives and negatives.
 */
export function rocAuc(positive: ArrayLike<boolean>, scores: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let start = 0; start < n;) {
    let end = start;
    while (end + 1 < n && scores[order[end + 1]] === scores[order[start]]) end++;
    const rank = (start + end) / 2 + 1; // average 1-based rank of the tie group
    for (let k = start; k <= end; k++) {
      if (positive[order[k]]) {
        positives++;
        rankSum += rank;
      }
    }
    start = end + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Macro one-vs-rest AUC: `probabilities` is rows × classes, row-major. */
export function rocAucOvr(labels: ArrayLike<number>, probabilities: ArrayLike<number>, classes: number): number {
  const n = labels.length;
  let sum = 0;
  let counted = 0;
  const positive = new Array<boolean>(n);
  const scores = new Float64Array(n);
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < n; i++) {
      positive[i] = labels[i] === c;
      scores[i] = probabilities[i * classes + c];
    }
    const auc = rocAuc(positive, scores);
    if (Number.isNaN(auc)) continue;
    sum += auc;
    counted++;
  }
  return counted === 0 ? NaN : sum / counted;
}

export function rmse(targets: ArrayLike<number>, predictions: ArrayLike<number>): number {
  if (targets.length === 0) return NaN;
  let ss = 0;
  for (let i = 0; i < targets.length; i++) ss += (targets[i] - predictions[i]) ** 2;
  return Math.sqrt(ss / targets.length);
}

export function mae(targets: ArrayLike<number>, predictions: ArrayLike<number>): number {
  if (targets.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < targets.length; i++) s += Math.abs(targets[i] - predictions[i]);
  return s / targets.length;
}

export function r2(targets: ArrayLike<number>, predictions: ArrayLike<number>): number {
  const n = targets.length;
  if (n === 0) return NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += targets[i];
  mean /= n;
  let res = 0;
  let tot = 0;
  for (let i = 0; i < n; i++) {
    res += (targets[i] - predictions[i]) ** 2;
    tot += (targets[i] - mean) ** 2;
  }
  return tot === 0 ? NaN : 1 - res / tot;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Class probabilities from a head's raw outputs (rows × width): softmax for
 * cross_entropy, sigmoid for bce_with_logits, as-is for bce (its head ends in a
 * sigmoid). Binary tasks give rows × 2 ([p(class 0), p(class 1)]).
 */
export function classProbabilities(loss: LossKind, outputs: ArrayLike<number>, width: number): Float64Array {
  const rows = outputs.length / width;
  if (isBinary(loss)) {
    const out = new Float64Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      const p = loss === 'bce' ? outputs[r] : sigmoid(outputs[r]);
      out[2 * r] = 1 - p;
      out[2 * r + 1] = p;
    }
    return out;
  }
  const out = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < width; c++) max = Math.max(max, outputs[r * width + c]);
    let sum = 0;
    for (let c = 0; c < width; c++) sum += (out[r * width + c] = Math.exp(outputs[r * width + c] - max));
    for (let c = 0; c < width; c++) out[r * width + c] /= sum;
  }
  return out;
}

/** The predicted class index of each row from class probabilities (rows × classes); ties → lowest index. */
export function argmaxRows(probabilities: ArrayLike<number>, classes: number): Int32Array {
  const rows = probabilities.length / classes;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[r * classes + c] > probabilities[r * classes + best]) best = c;
    out[r] = best;
  }
  return out;
}

/**
 * A task's metrics over labelled rows. Classification: `outputs` are the head's
 * raw outputs (rows × width) and `targets` class indices; regression: outputs
 * and targets in the same units. Rows whose target is NaN (unlabelled) are left out.
 */
export function taskReport(loss: LossKind, outputs: ArrayLike<number>, width: number, targets: ArrayLike<number>): TaskReport {
  const keep: number[] = [];
  for (let i = 0; i < targets.length; i++) if (!Number.isNaN(targets[i])) keep.push(i);
  if (!isClassification(loss)) {
    const y = keep.map((i) => targets[i]);
    const p = keep.map((i) => outputs[i]);
    return { kind: 'regression', count: keep.length, rmse: rmse(y, p), mae: mae(y, p), r2: r2(y, p) };
  }
  const all = classProbabilities(loss, outputs, width);
  const classes = all.length / (outputs.length / width);
  const probabilities = new Float64Array(keep.length * classes);
  keep.forEach((i, k) => probabilities.set(all.subarray(i * classes, (i + 1) * classes), k * classes));
  const labels = keep.map((i) => targets[i]);
  const predicted = argmaxRows(probabilities, classes);
  // bce's head ends in a sigmoid: threshold 0.5 either way, as argmax over [1 − p, p] (a tie → class 0, as the trainer)
  const auc = classes === 2
    ? rocAuc(labels.map((y) => y === 1), Array.from({ length: keep.length }, (_, k) => probabilities[2 * k + 1]))
    : rocAucOvr(labels, probabilities, classes);
  return { kind: 'classification', count: keep.length, accuracy: accuracy(labels, predicted), f1: f1Score(labels, predicted, classes), auc };
}
