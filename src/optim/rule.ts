/**
 * An optimizer as an update rule with explicit state, the same kind of thing as
 * a strategy (optax's `init`/`update`): the rule holds only its settings; the
 * state (step count and buffers such as Adam's moments) is a value the caller
 * owns, created by `init` and advanced in place by `update`. The trainer binds
 * a rule to the parameter segments it updates (optimizer.ts); the loss
 * weightings run the same rules on their few float64 task weights.
 */

/** The arrays a rule works on: float32 parameters through the kernels, or float64 (loss weightings). */
export type FloatArray = Float32Array | Float64Array;

/** A rule's state over `length` elements: steps taken and one buffer per name in `bufferNames`. */
export interface RuleState<A extends FloatArray = Float32Array> {
  stepCount: number;
  buffers: Record<string, A>;
}

export interface UpdateRule<A extends FloatArray = Float32Array> {
  /** The state buffers this rule keeps (Adam: m, v; SGD with momentum: momentum). */
  readonly bufferNames: readonly string[];
  /**
   * One step on `param` in place from `grad` (read only) at learning rate `lr`.
   * `buffers` are this slice's views of the state buffers; `step` is the 1-based
   * number of this step (the same for every slice of one optimizer step).
   */
  update(param: A, grad: A, buffers: Record<string, A>, step: number, lr: number): void;
  /**
   * If the rule has it: `update` on the gradient grad0 + grad1 (two shards'), with
   * the bits of summing them into grad0 first (float32, one rounding) and then
   * updating, in one pass and writing neither.
   */
  updateSummed?(param: A, grad0: A, grad1: A, buffers: Record<string, A>, step: number, lr: number): void;
}

/** A fresh state: no steps, zero-filled buffers of `length` elements. */
export function initState<A extends FloatArray>(rule: UpdateRule<A>, length: number, make: (n: number) => A): RuleState<A> {
  const buffers: Record<string, A> = {};
  for (const name of rule.bufferNames) buffers[name] = make(length);
  return { stepCount: 0, buffers };
}

/** One whole step of `rule` on equal-length arrays, advancing `state`. */
export function applyRule<A extends FloatArray>(rule: UpdateRule<A>, param: A, grad: A, state: RuleState<A>, lr: number): void {
  rule.update(param, grad, state.buffers, state.stepCount + 1, lr);
  state.stepCount++;
}
