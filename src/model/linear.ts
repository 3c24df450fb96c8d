/**
 * One fully connected layer's forward and backward pass over a batch, and the
 * buffers they use: the building block of the trunk, the heads (network.ts)
 * and the experts, gates and towers of a mixture (mixture.ts).
 */
import type { Activation, Kernels } from '../kernels/types.js';
import type { Linear } from './parameters.js';

export interface LayerBuffers {
  /** pre-activation, then (backward) reused for nothing else; the same array as h when the activation runs in place */
  z: Float32Array;
  /** activation output */
  h: Float32Array;
  /** gradient w.r.t. h, turned into the gradient w.r.t. z in place */
  delta: Float32Array;
}

/**
 * A layer's buffers for up to `rows` rows. Given the layer's activation, the
 * activation overwrites the pre-activation where that is exact (z and h one
 * array: a batch's worth less memory to stream through): for every activation
 * whose backward reads only its output (Kernels.biasActivation), all but gelu.
 */
export const buffers = (rows: number, width: number, activation?: Activation): LayerBuffers => {
  const z = new Float32Array(rows * width);
  const inPlace = activation !== undefined && activation !== 'gelu';
  return { z, h: inPlace ? z : new Float32Array(rows * width), delta: new Float32Array(rows * width) };
};

export function linearForward(k: Kernels, l: Linear, input: Float32Array, rows: number,
  act: LayerBuffers, activation: Parameters<Kernels['biasActivation']>[4]): Float32Array {
  k.gemm(false, true, rows, l.outWidth, l.inWidth, 1, input, l.weight, 0, act.z);
  k.biasActivation(rows, l.outWidth, act.z, l.bias, activation, act.h);
  return act.h;
}

/**
 * Backward of one linear layer whose output gradient is already in `act.delta`:
 * turns it into the pre-activation gradient, writes the weight and bias gradients,
 * and (unless `dInput` is null) dInput = beta·dInput + δ·W.
 */
export function linearBackward(k: Kernels, l: Linear, grad: Linear, input: Float32Array, rows: number,
  act: LayerBuffers, activation: Parameters<Kernels['biasActivation']>[4],
  dInput: Float32Array | null, beta: number): void {
  const n = rows * l.outWidth;
  if (activation !== 'identity') k.activationBackward(n, activation, act.z, act.h, act.delta, act.delta);
  k.gemm(true, false, l.outWidth, l.inWidth, rows, 1, act.delta, input, 0, grad.weight);
  k.biasGrad(rows, l.outWidth, act.delta, grad.bias);
  if (dInput) k.gemm(false, false, rows, l.inWidth, l.outWidth, 1, act.delta, l.weight, beta, dInput);
}

