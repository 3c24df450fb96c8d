/**
 * Smoothing of per-step series (losses, cosines, norms, weights, conflicts):
 * an exponential moving average with TensorBoard's bias correction, so the
 * first points are not pulled towards 0:
 *   s_t = β·s_{t−1} + (1−β)·y_t,  shown: s_t / (1 − β^t)   (t counts finite values)
 * A non-finite value leaves the average unchanged and is a gap in the line.
 */

/** β, the smoothing factor of every per-step line in the reports. */
export const SMOOTHING = 0.9;

/** How the reports say what the smoothed lines are. */
export const smoothingNote = (factor: number): string =>
  `lines: exponential moving average of the per-step values (factor ${factor}, bias-corrected as TensorBoard's); faint: the values themselves`;

export class Ema {
  private sum = 0;
  private weight = 0;

  constructor(readonly factor: number = SMOOTHING) {
    if (!(factor >= 0 && factor < 1)) throw new RangeError(`a smoothing factor is in [0, 1), not ${factor}`);
  }

  /** Adds y and returns the bias-corrected average (NaN for a non-finite y). */
  add(y: number): number {
    if (!Number.isFinite(y)) return NaN;
    this.sum = this.factor * this.sum + (1 - this.factor) * y;
    // 1 − β^t, kept as a running product so it needs no power
    this.weight = this.factor * this.weight + (1 - this.factor);
    return this.sum / this.weight;
  }
}
