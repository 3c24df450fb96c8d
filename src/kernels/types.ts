/**
 * The kernel core: every numeric loop of the trainer goes through this interface,
 * implemented in portable TypeScript (js.ts) and by the native addon (native.ts).
 *
 * Conventions shared by every kernel:
 * - Matrices are row-major and contiguous. Any argument may be a view
 *   (`subarray`) into a larger buffer, at any element offset — parameters are
 *   views into one shared flat buffer and gradients views into a shared arena.
 * - Sizes are passed explicitly; a kernel reads and writes only the first
 *   `rows × cols` (or `n`) elements, so scratch buffers sized for the largest
 *   batch are reused for smaller ones.
 * - Nothing allocates; outputs are written into arrays the caller owns.
 * - Targets are float32; `NaN` marks a missing label (partial labels). Class
 *   labels are class indices stored as floats.
 */

export type Activation = 'identity' | 'relu' | 'tanh' | 'sigmoid' | 'gelu';
export const ACTIVATIONS: readonly Activation[] = ['identity', 'relu', 'tanh', 'sigmoid', 'gelu'];

export type LossKind = 'cross_entropy' | 'bce_with_logits' | 'bce' | 'mse' | 'l1' | 'smooth_l1';
export const LOSS_KINDS: readonly LossKind[] = ['cross_entropy', 'bce_with_logits', 'bce', 'mse', 'l1', 'smooth_l1'];

/** Loss statistics written by `loss` (a Float64Array of at least this length). */
export const LOSS_STATS_LENGTH = 4;
/** stats[LOSS_SUM]: sum of the per-label losses over labelled entries. */
export const LOSS_SUM = 0;
/** stats[LOSS_COUNT]: labelled entries (rows for cross_entropy, elements otherwise). */
export const LOSS_COUNT = 1;
/**
 * stats[LOSS_METRIC]: correct predictions for classification losses
 * (cross_entropy, bce_with_logits, bce), sum of squared errors for regression.
 */
export const LOSS_METRIC = 2;
/**
 * stats[LOSS_WEIGHT]: the denominator of the mean loss — Σ w[target] over the labelled
 * rows for cross_entropy with class weights (PyTorch's weighted mean), else the labelled
 * count (pos_weight does not change BCEWithLogitsLoss's denominator).
 */
export const LOSS_WEIGHT = 3;

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** true: AdamW's decoupled decay p ← p·(1 − lr·wd); false: Adam's L2 term g ← g + wd·p. */
  decoupled: boolean;
  /** 1-based step count used for bias correction. */
  step: number;
}

export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  /** true on the first step: the momentum buffer is initialised to the gradient (PyTorch's rule). */
  firstStep: boolean;
}

export interface Kernels {
  /** Which implementation this is. */
  readonly backend: 'js' | 'native';
  /** Instruction set in use: 'avx512', 'avx2', 'scalar' (native) or 'js'. */
  readonly isa: string;

  /**
   * C (m×n) = alpha·op(A)·op(B) + beta·C.
   * op(A) is m×k: A is stored m×k, or k×m when `transA`.
   * op(B) is k×n: B is stored k×n, or n×k when `transB`.
   * With beta = 0, C's previous contents are ignored (NaN included), as in BLAS.
   */
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void;

  /**
   * Forward epilogue of a linear layer: z[r, c] += bias[c] in place, then h = act(z).
   * h may be the same array as z (in-place activation); activationBackward then
   * gets that array as both z and h, which is exact for every activation but gelu.
   */
  biasActivation(rows: number, cols: number, z: Float32Array, bias: Float32Array,
    act: Activation, h: Float32Array): void;

  /**
   * dz[i] = dh[i] · act'(z[i]) for i < n. relu, tanh and sigmoid read the output h
   * (relu: h > 0; tanh: 1 − h²; sigmoid: h(1 − h)); gelu reads z (exact erf form). dz may alias dh.
   */
  activationBackward(n: number, act: Activation, z: Float32Array, h: Float32Array,
    dh: Float32Array, dz: Float32Array): void;

  /** db[c] = Σ_r dy[r, c] (overwrites db). */
  biasGrad(rows: number, cols: number, dy: Float32Array, db: Float32Array): void;

  /**
   * A loss over `rows` rows of `cols` predictions, PyTorch's definitions:
   * - cross_entropy: pred are logits (cols = classes), target is one class index per row;
   *   loss = −log softmax(pred)[target], computed stably.
   * - bce_with_logits: max(z,0) − z·y + log(1 + e^−|z|), target 0/1 per element.
   * - bce: pred are probabilities; −(y·log p + (1−y)·log(1−p)), logs clamped at −100 like BCELoss.
   * - mse (d²), l1 (|d|), smooth_l1 (β = 1: ½d² if |d| < 1 else |d| − ½), d = pred − target.
   * Writes grad[i] = gradScale · ∂loss_i/∂pred_i for labelled entries and 0 for unlabelled
   * (NaN target) ones, and stats[0..3] = [loss sum, labelled count, metric, weight sum] (see LOSS_*).
   *
   * `classWeights` (optional, `cols` values ≥ 0; null or absent: all 1):
   * - cross_entropy: CrossEntropyLoss's `weight`, one per class: row i's loss and gradient
   *   are multiplied by w[target_i], and stats[LOSS_WEIGHT] = Σ w[target_i] (the caller's
   *   mean divides by it, as PyTorch's reduction='mean' does);
   * - bce_with_logits: BCEWithLogitsLoss's `pos_weight`, one per column:
   *   −[p·y·log σ(z) + (1−y)·log(1 − σ(z))]; bce the same of the probability (as if its
   *   sigmoid were inside the loss); stats[LOSS_WEIGHT] stays the labelled count;
   * - regression losses take none.
   */
  loss(kind: LossKind, rows: number, cols: number, pred: Float32Array, target: Float32Array,
    gradScale: number, grad: Float32Array, stats: Float64Array, classWeights?: Float32Array | null): void;

  /**
   * Copies `count` rows of `width` values, rows indices[start], indices[start + 1], ...
   * of the row-major matrix `src`, into dst (row r of dst at r·width). Throws a
   * RangeError, before writing anything, when an index is not a row of src or
   * indices or dst is too short.
   */
  gatherRows(width: number, src: Float32Array, indices: Int32Array, start: number, count: number,
    dst: Float32Array): void;

  /**
   * y[i] += alpha·x[i] for i < n. Here and in the optimizer steps, operands may be
   * the same array but must not overlap at an offset (the native loops assume it).
   */
  axpy(n: number, alpha: number, x: Float32Array, y: Float32Array): void;
  /** x[i] *= alpha for i < n. */
  scale(n: number, alpha: number, x: Float32Array): void;
  /** Σ x[i]·y[i] for i < n, accumulated in float64. */
  dot(n: number, x: Float32Array, y: Float32Array): number;
  /** Euclidean norm of x[0..n), accumulated in float64. */
  norm(n: number, x: Float32Array): number;

  /** One PyTorch SGD step over n parameters (momentum buffer `buf` unused when momentum = 0). */
  sgdStep(n: number, param: Float32Array, grad: Float32Array, buf: Float32Array, h: SgdHyper): void;
  /** sgdStep on the gradient grad0 + grad1, as adamStepSummed is adamStep on it. */
  sgdStepSummed(n: number, param: Float32Array, grad0: Float32Array, grad1: Float32Array, buf: Float32Array,
    h: SgdHyper): void;
  /** One PyTorch Adam/AdamW step over n parameters with moment buffers m and v. */
  adamStep(n: number, param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array,
    h: AdamHyper): void;
  /**
   * adamStep on the gradient grad0 + grad1, with the bits of axpy(n, 1, grad1, grad0)
   * then adamStep on grad0, but in one pass over the memory and writing neither
   * gradient: two shards' gradients summed and stepped on at once.
   */
  adamStepSummed(n: number, param: Float32Array, grad0: Float32Array, grad1: Float32Array, m: Float32Array,
    v: Float32Array, h: AdamHyper): void;
}
