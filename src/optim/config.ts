/**
 * Optimizer configuration: the options of torch.optim.SGD / Adam / AdamW under
 * camelCase names, PyTorch's defaults, and validation with PyTorch's rules.
 */

import { UserError } from '../util/errors.js';

export type OptimizerName = 'sgd' | 'adam' | 'adamw';
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['sgd', 'adam', 'adamw'];

export interface OptimizerConfig {
  name: OptimizerName;
  /** Learning rate (finite, > 0). Required: PyTorch has no default for SGD and we keep it explicit for all. */
  lr: number;
  /** SGD only. Default 0. */
  momentum?: number;
  /** SGD only. Default 0. */
  dampening?: number;
  /** SGD only. Default false; requires momentum > 0 and dampening 0. */
  nesterov?: boolean;
  /** SGD, Adam: L2 term added to the gradient (default 0). AdamW: decoupled decay (default 0.01). */
  weightDecay?: number;
  /** Adam, AdamW. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Adam, AdamW. Default 1e-8. */
  eps?: number;
}

/**
 * A config with every field filled in. Fields that do not apply to the chosen
 * optimizer hold their default values and are ignored (so a resolved config
 * validates again unchanged, e.g. when read back from a checkpoint).
 */
export type ResolvedOptimizerConfig = Readonly<Required<OptimizerConfig>>;

const DEFAULTS = {
  momentum: 0,
  dampening: 0,
  nesterov: false,
  betas: [0.9, 0.999] as const,
  eps: 1e-8,
};

const SGD_FIELDS = ['momentum', 'dampening', 'nesterov'] as const;
const ADAM_FIELDS = ['betas', 'eps'] as const;
const ALL_FIELDS = ['name', 'lr', ...SGD_FIELDS, 'weightDecay', ...ADAM_FIELDS] as const;

/** PyTorch's default weight decay: 0 for SGD and Adam, 0.01 for AdamW. */
export function defaultWeightDecay(name: OptimizerName): number {
  return name === 'adamw' ? 0.01 : 0;
}

function show(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint' || v === undefined) return String(v);
  if (typeof v === 'function') return 'a function';
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 80 ? s.slice(0, 77) + '...' : s;
  } catch {
    return String(v);
  }
}

function fail(where: string, field: string, value: unknown, expected: string): never {
  throw new UserError(`${where}: optimizer field "${field}" is ${show(value)}; expected ${expected}`);
}

function finiteNumber(where: string, field: string, v: unknown, expected: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, field, v, expected);
  return v;
}

/**
 * Checks an optimizer config read from user input (config file, CLI) and returns
 * it typed. Throws a UserError naming `where`, the field, its value and what was
 * expected. Rules are PyTorch's (lr > 0 is stricter than PyTorch's lr ≥ 0, eps > 0
 * stricter than eps ≥ 0): momentum, dampening, weight decay ≥ 0; betas in [0, 1);
 * Nesterov needs momentum > 0 and dampening 0. Unknown fields are rejected, and so
 * are options of the other optimizer family set to a non-default value
 * (e.g. `momentum: 0.9` with adam), since they would be silently ignored.
 */
export function validateOptimizerConfig(c: unknown, where: string): OptimizerConfig {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) {
    throw new UserError(`${where}: optimizer config is ${show(c)}; expected an object like {"name": "adam", "lr": 0.001}`);
  }
  const o = c as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(ALL_FIELDS as readonly string[]).includes(key)) {
      fail(where, key, o[key], `no such field (known fields: ${ALL_FIELDS.join(', ')})`);
    }
  }
  const name = o.name;
  if (typeof name !== 'string' || !(OPTIMIZER_NAMES as readonly string[]).includes(name)) {
    fail(where, 'name', name, `one of ${OPTIMIZER_NAMES.join(', ')}`);
  }
  const optName = name as OptimizerName;
  const out: OptimizerConfig = {
    name: optName,
    lr: finiteNumber(where, 'lr', o.lr, 'a finite number > 0'),
  };
  if (out.lr <= 0) fail(where, 'lr', o.lr, 'a finite number > 0');

  if (o.weightDecay !== undefined) {
    out.weightDecay = finiteNumber(where, 'weightDecay', o.weightDecay, 'a finite number >= 0');
    if (out.weightDecay < 0) fail(where, 'weightDecay', o.weightDecay, 'a finite number >= 0');
  }

  // SGD options (validated whatever the optimizer, so a typo is reported as such)
  if (o.momentum !== undefined) {
    out.momentum = finiteNumber(where, 'momentum', o.momentum, 'a finite number >= 0');
    if (out.momentum < 0) fail(where, 'momentum', o.momentum, 'a finite number >= 0');
  }
  if (o.dampening !== undefined) {
    out.dampening = finiteNumber(where, 'dampening', o.dampening, 'a number in [0, 1]');
    if (out.dampening < 0 || out.dampening > 1) fail(where, 'dampening', o.dampening, 'a number in [0, 1]');
  }
  if (o.nesterov !== undefined) {
    if (typeof o.nesterov !== 'boolean') fail(where, 'nesterov', o.nesterov, 'true or false');
    out.nesterov = o.nesterov;
  }

  // Adam options
  if (o.betas !== undefined) {
    const b = o.betas;
    const expected = 'two numbers [beta1, beta2], each in [0, 1)';
    if (!Array.isArray(b) || b.length !== 2) fail(where, 'betas', b, expected);
    const [b1, b2] = b as unknown[];
    for (const [i, beta] of [b1, b2].entries()) {
      if (typeof beta !== 'number' || !(beta >= 0 && beta < 1)) {
        fail(where, `betas[${i}]`, beta, 'a number in [0, 1)');
      }
    }
    out.betas = [b1 as number, b2 as number];
  }
  if (o.eps !== undefined) {
    out.eps = finiteNumber(where, 'eps', o.eps, 'a finite number > 0');
    if (out.eps <= 0) fail(where, 'eps', o.eps, 'a finite number > 0');
  }

  // Options of the other family must not be set to something that would be ignored.
  if (optName === 'sgd') {
    if (out.betas !== undefined && (out.betas[0] !== DEFAULTS.betas[0] || out.betas[1] !== DEFAULTS.betas[1])) {
      fail(where, 'betas', o.betas, 'no betas with sgd (an adam/adamw option)');
    }
    if (out.eps !== undefined && out.eps !== DEFAULTS.eps) {
      fail(where, 'eps', o.eps, 'no eps with sgd (an adam/adamw option)');
    }
  } else {
    for (const f of SGD_FIELDS) {
      if (out[f] !== undefined && out[f] !== DEFAULTS[f]) {
        fail(where, f, o[f], `no ${f} with ${optName} (an sgd option; ${optName} uses betas)`);
      }
    }
  }

  if (out.nesterov) {
    const momentum = out.momentum ?? 0;
    const dampening = out.dampening ?? 0;
    if (momentum <= 0 || dampening !== 0) {
      fail(where, 'nesterov', true,
        `momentum > 0 and dampening 0 with nesterov (got momentum ${momentum}, dampening ${dampening})`);
    }
  }
  return out;
}

/** Validates and fills in PyTorch's defaults. */
export function resolveOptimizerConfig(c: OptimizerConfig, where = 'optimizer'): ResolvedOptimizerConfig {
  const v = validateOptimizerConfig(c, where);
  return Object.freeze({
    name: v.name,
    lr: v.lr,
    momentum: v.momentum ?? DEFAULTS.momentum,
    dampening: v.dampening ?? DEFAULTS.dampening,
    nesterov: v.nesterov ?? DEFAULTS.nesterov,
    weightDecay: v.weightDecay ?? defaultWeightDecay(v.name),
    betas: Object.freeze([...(v.betas ?? DEFAULTS.betas)]) as readonly number[] as readonly [number, number],
    eps: v.eps ?? DEFAULTS.eps,
  });
}
