/**
 * Forward and backward passes of a mixture-of-experts model: MMoE (Ma et al.,
 * KDD 2018) and PLE (Tang et al., RecSys 2020); the structure and names are in
 * mixture-layout.ts. Per level:
 *
 *   expert e:  E_e = MLP_e(input of its stream)
 *   gate g:    p_g = softmax(W_g · input of its stream + b_g)   over its experts
 *              output of its stream = Σ_i p_g,i · E_(experts of g)_i
 *
 * and each task's tower reads its task stream's output of the last level.
 * The experts, gates and towers are Linear layers run with the kernels; the
 * softmax and the weighted sums are E-wide loops here, accumulated in float64
 * (deterministic, and the same on every machine).
 */
import type { Kernels } from '../kernels/types.js';
import { buffers, linearBackward, linearForward, type LayerBuffers } from './linear.js';
import { mixtureStructure, type MixtureStructure } from './mixture-layout.js';
import type { Linear, MixtureTensors } from './parameters.js';
import type { ModelSpec } from './spec.js';

interface GateBuffers {
  /** logits (z, h) and, in backward, their gradient (delta) */
  logits: LayerBuffers;
  /** the softmax of the logits: each row's expert weights */
  p: Float32Array;
  /** the last layer outputs of the experts it weighs, in softmax order */
  inputs: Float32Array[];
  /** gradient accumulators of those experts' outputs */
  dInputs: Float32Array[];
}

/** Every buffer a mixture's forward/backward pass needs for up to `maxRows` rows. */
export class MixtureWorkspace {
  readonly structure: MixtureStructure;
  /** [level][expert][layer] */
  readonly experts: LayerBuffers[][][];
  /** [level][gate] */
  readonly gates: GateBuffers[][];
  /** outputs[level][stream]: the gated mixture a level writes (rows × width) */
  readonly outputs: Float32Array[][];
  /** the gradient w.r.t. outputs[level][stream] */
  readonly dOutputs: Float32Array[][];
  /** [task][layer] */
  readonly towers: LayerBuffers[][];
  /** backward scratch: which of a level's output streams carry a gradient */
  readonly live: boolean[][];
  /** backward scratch: which of a level's experts receive a gradient */
  readonly expertLive: boolean[];
  /** scratch of a gate's width: one row's exponentials (forward), its gradient w.r.t. the expert weights (backward) */
  readonly dp: Float64Array;
  /** forward scratch: one row of a gated mixture */
  readonly row: Float64Array;

  constructor(spec: ModelSpec, readonly maxRows: number) {
    const s = mixtureStructure(spec);
    this.structure = s;
    const streams = (l: number) => (l < s.levels.length - 1 ? s.tasks + 1 : s.tasks);
    this.experts = s.levels.map((level) => level.experts.map((e) => e.layers.map((ref) => buffers(maxRows, ref.outWidth))));
    this.outputs = s.levels.map((_, l) => Array.from({ length: streams(l) }, () => new Float32Array(maxRows * s.width)));
    this.dOutputs = s.levels.map((_, l) => Array.from({ length: streams(l) }, () => new Float32Array(maxRows * s.width)));
    this.gates = s.levels.map((level, l) => level.gates.map((g) => {
      const last = (e: number) => this.experts[l][e][this.experts[l][e].length - 1];
      return {
        logits: buffers(maxRows, g.experts.length),
        p: new Float32Array(maxRows * g.experts.length),
        inputs: g.experts.map((e) => last(e).h),
        dInputs: g.experts.map((e) => last(e).delta),
      };
    }));
    this.towers = s.towers.map((tower) => tower.map((ref) => buffers(maxRows, ref.outWidth)));
    this.live = s.levels.map((_, l) => new Array<boolean>(streams(l)).fill(false));
    this.expertLive = new Array<boolean>(Math.max(...s.levels.map((level) => level.experts.length))).fill(false);
    this.row = new Float64Array(s.width);
    this.dp = new Float64Array(Math.max(...s.levels.flatMap((level) => level.gates.map((g) => g.experts.length))));
  }
}

/** p[r, ·] = softmax(z[r, ·]) over `n` columns, stably (max subtracted), in float64 (e64: n scratch values). */
export function softmaxRows(rows: number, n: number, z: Float32Array, p: Float32Array, e64: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const at = r * n;
    let max = -Infinity;
    for (let i = 0; i < n; i++) if (z[at + i] > max) max = z[at + i];
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp(z[at + i] - max);
      e64[i] = e;
      sum += e;
    }
    for (let i = 0; i < n; i++) p[at + i] = e64[i] / sum;
  }
}

/**
 * Backward of the softmax for one row: dz_i = p_i·(dp_i − Σ_j p_j·dp_j), the
 * Jacobian-vector product of p = softmax(z).
 */
export function softmaxBackwardRow(n: number, p: Float32Array, at: number, dp: Float64Array, dz: Float32Array): void {
  let dot = 0;
  for (let i = 0; i < n; i++) dot += p[at + i] * dp[i];
  for (let i = 0; i < n; i++) dz[at + i] = p[at + i] * (dp[i] - dot);
}

/** out[r, ·] = Σ_i p[r, i] · inputs[i][r, ·] (width columns each), accumulated in float64 (acc: width scratch values). */
function mix(rows: number, width: number, p: Float32Array, inputs: readonly Float32Array[], out: Float32Array, acc: Float64Array): void {
  const n = inputs.length;
  for (let r = 0; r < rows; r++) {
    const at = r * width;
    acc.fill(0, 0, width);
    for (let i = 0; i < n; i++) {
      const w = p[r * n + i];
      const E = inputs[i];
      for (let d = 0; d < width; d++) acc[d] += w * E[at + d];
    }
    for (let d = 0; d < width; d++) out[at + d] = acc[d];
  }
}

/** Runs every level's experts and gates on `x`; the towers then read ws.outputs[last][task]. */
export function forwardMixture(k: Kernels, p: MixtureTensors, ws: MixtureWorkspace, x: Float32Array, rows: number): void {
  const s = ws.structure;
  for (let l = 0; l < s.levels.length; l++) {
    const level = s.levels[l];
    const inputs = l === 0 ? null : ws.outputs[l - 1];
    for (let i = 0; i < level.experts.length; i++) {
      const e = level.experts[i];
      let h = inputs ? inputs[e.stream] : x;
      for (let j = 0; j < e.layers.length; j++) h = linearForward(k, p.experts[l][i][j]!, h, rows, ws.experts[l][i][j], e.layers[j].activation);
    }
    for (let gi = 0; gi < level.gates.length; gi++) {
      const g = level.gates[gi];
      const buf = ws.gates[l][gi];
      const z = linearForward(k, p.gates[l][gi]!, inputs ? inputs[g.stream] : x, rows, buf.logits, 'identity');
      softmaxRows(rows, g.experts.length, z, buf.p, ws.dp);
      mix(rows, s.width, buf.p, buf.inputs, ws.outputs[l][g.stream], ws.row);
    }
  }
}

/** Runs task t's tower on its mixture; returns its predictions (rows × outputs). */
export function forwardTower(k: Kernels, p: MixtureTensors, ws: MixtureWorkspace, t: number, rows: number): Float32Array {
  const s = ws.structure;
  let h = ws.outputs[s.levels.length - 1][t];
  s.towers[t].forEach((ref, j) => {
    h = linearForward(k, p.towers[t][j]!, h, rows, ws.towers[t][j], ref.activation);
  });
  return h;
}

const covered = (l: Linear | undefined, name: string): Linear => {
  if (!l) throw new Error(`the gradient buffer does not cover ${name}`);
  return l;
};

/**
 * Backward of task t's tower from the loss gradient in its output layer's
 * delta: writes the tower's gradients and the gradient w.r.t. its mixture
 * (ws.dOutputs[last][t]).
 */
export function backwardTower(k: Kernels, p: MixtureTensors, g: MixtureTensors, ws: MixtureWorkspace, t: number, rows: number): void {
  const s = ws.structure;
  const L = s.levels.length;
  const tower = s.towers[t];
  for (let j = tower.length - 1; j >= 0; j--) {
    const input = j === 0 ? ws.outputs[L - 1][t] : ws.towers[t][j - 1].h;
    const dInput = j === 0 ? ws.dOutputs[L - 1][t] : ws.towers[t][j - 1].delta;
    linearBackward(k, p.towers[t][j]!, covered(g.towers[t][j], tower[j].name), input, rows, ws.towers[t][j], tower[j].activation, dInput, 0);
  }
}

/**
 * Backward through every level from the gradients of the last level's
 * outputs of `tasks` (written by backwardTower): writes (overwrites) the
 * gradient of every gate and expert those tasks' losses reach — the shared
 * segment and those tasks' own (mixture-layout.ts) — and nothing else.
 */
export function backwardMixture(k: Kernels, p: MixtureTensors, g: MixtureTensors, ws: MixtureWorkspace, x: Float32Array,
  rows: number, tasks: readonly { task: number }[]): void {
  const s = ws.structure;
  const { live, expertLive, dp } = ws;
  const L = s.levels.length;
  const D = s.width;
  live[L - 1].fill(false);
  for (const { task } of tasks) live[L - 1][task] = true;
  for (let l = L - 1; l >= 0; l--) {
    const level = s.levels[l];
    const inputs = l === 0 ? null : ws.outputs[l - 1];
    // the gradient of this level's input streams (the previous level's outputs): written by its first contributor
    const dInputs = l === 0 ? null : ws.dOutputs[l - 1];
    const inLive = l === 0 ? null : live[l - 1];
    inLive?.fill(false);
    expertLive.fill(false);
    for (let gi = 0; gi < level.gates.length; gi++) {
      const gate = level.gates[gi];
      if (!live[l][gate.stream]) continue;
      const buf = ws.gates[l][gi];
      for (let i = 0; i < gate.experts.length; i++) {
        const e = gate.experts[i];
        if (!expertLive[e]) buf.dInputs[i].fill(0, 0, rows * D);
        expertLive[e] = true;
      }
      gateBackward(rows, D, buf, ws.dOutputs[l][gate.stream], dp);
      const beta = inLive?.[gate.stream] ? 1 : 0;
      if (inLive) inLive[gate.stream] = true;
      linearBackward(k, p.gates[l][gi]!, covered(g.gates[l][gi], gate.linear.name), inputs ? inputs[gate.stream] : x, rows,
        buf.logits, 'identity', dInputs ? dInputs[gate.stream] : null, beta);
    }
    for (let e = 0; e < level.experts.length; e++) {
      if (!expertLive[e]) continue;
      const expert = level.experts[e];
      const acts = ws.experts[l][e];
      for (let j = expert.layers.length - 1; j >= 0; j--) {
        const ref = expert.layers[j];
        let dIn: Float32Array | null = j > 0 ? acts[j - 1].delta : null;
        let beta = 0;
        if (j === 0 && dInputs) {
          dIn = dInputs[expert.stream];
          beta = inLive![expert.stream] ? 1 : 0;
          inLive![expert.stream] = true;
        }
        linearBackward(k, p.experts[l][e][j]!, covered(g.experts[l][e][j], ref.name), j > 0 ? acts[j - 1].h : inputs ? inputs[expert.stream] : x,
          rows, acts[j], ref.activation, dIn, beta);
      }
    }
  }
}

/**
 * One live gate's backward from the gradient of its mixture (dOut): adds
 * p_i·dOut to each of its experts' output gradients, and writes the gradient
 * of its logits (softmax backward of dp_i = dOut·E_i) into buf.logits.delta.
 */
function gateBackward(rows: number, D: number, buf: GateBuffers, dOut: Float32Array, dp: Float64Array): void {
  const { p, inputs, dInputs } = buf;
  const n = inputs.length;
  const dz = buf.logits.delta;
  for (let r = 0; r < rows; r++) {
    const at = r * D;
    for (let i = 0; i < n; i++) {
      const E = inputs[i];
      const dE = dInputs[i];
      const w = p[r * n + i];
      let acc = 0;
      for (let d = 0; d < D; d++) {
        const gd = dOut[at + d];
        acc += gd * E[at + d];
        dE[at + d] += w * gd;
      }
      dp[i] = acc;
    }
    softmaxBackwardRow(n, p, r * n, dp, dz);
  }
}

/**
 * Sums of every gate's expert weights over forward passes, for their means:
 * which task leans on which expert.
 */
export class GateWeights {
  private readonly sums: Float64Array[][];
  private rows = 0;

  constructor(private readonly structure: MixtureStructure) {
    this.sums = structure.levels.map((level) => level.gates.map((g) => new Float64Array(g.experts.length)));
  }

  /** Adds the expert weights of the forward pass just run on `rows` rows. */
  add(ws: MixtureWorkspace, rows: number): void {
    this.sums.forEach((level, l) => level.forEach((sum, gi) => {
      const n = sum.length;
      const p = ws.gates[l][gi].p;
      for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) sum[i] += p[r * n + i];
    }));
    this.rows += rows;
  }

  /** gate name → expert name → mean weight over the rows added (empty before any). */
  means(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    if (this.rows === 0) return out;
    this.structure.levels.forEach((level, l) => level.gates.forEach((gate, gi) => {
      out[gate.linear.name] = Object.fromEntries(gate.experts.map((e, i) => [level.experts[e].name, this.sums[l][gi][i] / this.rows]));
    }));
    return out;
  }
}
