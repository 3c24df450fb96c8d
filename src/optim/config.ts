/**
 * Optimizer configuration: the options of torch.optim.SGD / Adam / AdamW under
 * camelCase names, PyTorch's defaults, and PyTorch's rules — as one zod schema
 * (`optimizerSchema`, part of the run config's schema). Its output is a resolved
 * config: every field filled in, checked once.
 */
import { z } from 'zod';
import { UserError } from '../util/errors.js';

export type OptimizerName = 'sgd' | 'adam' | 'adamw';
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['sgd', 'adam', 'adamw'];

/** PyTorch's default weight decay: 0 for SGD and Adam, 0.01 for AdamW. */
export function defaultWeightDecay(name: OptimizerName): number {
  return name === 'adamw' ? 0.01 : 0;
}

const SGD_DEFAULTS = { momentum: 0, dampening: 0, nesterov: false } as const;
const ADAM_DEFAULTS = { betas: [0.9, 0.999] as const, eps: 1e-8 };
const SGD_FIELDS = ['momentum', 'dampening', 'nesterov'] as const;

const number = (expected: string, ok: (n: number) => boolean) =>
  z.number({ error: expected }).refine(ok, { error: expected });
const beta = () => number('a number in [0, 1)', (n) => n >= 0 && n < 1);
const FIELDS = {
  name: z.enum(OPTIMIZER_NAMES as [OptimizerName, ...OptimizerName[]]).default('adam').describe('sgd, adam or adamw (default adam)'),
  lr: number('a number > 0', (n) => n > 0).default(0.01).describe('learning rate (default 0.01)'),
  momentum: number('a number ≥ 0', (n) => n >= 0).default(SGD_DEFAULTS.momentum).describe('sgd (default 0)'),
  dampening: number('a number in [0, 1]', (n) => n >= 0 && n <= 1).default(SGD_DEFAULTS.dampening).describe('sgd (default 0)'),
  nesterov: z.boolean({ error: 'true or false' }).default(SGD_DEFAULTS.nesterov).describe('sgd (default false; needs momentum > 0 and dampening 0)'),
  weightDecay: number('a number ≥ 0', (n) => n >= 0).optional().describe('adam, sgd: L2 term (default 0); adamw: decoupled (default 0.01)'),
  betas: z.tuple([beta(), beta()], { error: 'two numbers [beta1, beta2] in [0, 1)' }).default([...ADAM_DEFAULTS.betas]).describe('adam, adamw (default [0.9, 0.999])'),
  eps: number('a number > 0', (n) => n > 0).default(ADAM_DEFAULTS.eps).describe('adam, adamw (default 1e-8)'),
};
const KNOWN = Object.keys(FIELDS);

/** A config with every field filled in (fields of the other family hold their defaults and are ignored). */
export interface ResolvedOptimizerConfig {
  readonly name: OptimizerName;
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
}

/** Configs that went through the schema: resolveOptimizerConfig hands them back as they are. */
const resolvedConfigs = new WeakSet<object>();

/** A problem with PyTorch's cross-field rules, as (field, expected), or undefined. */
function ruleViolation(c: Omit<ResolvedOptimizerConfig, 'weightDecay'>): { field: string; expected: string; message: string } | undefined {
  if (c.name === 'sgd') {
    const adam = 'an adam/adamw option';
    if (c.betas[0] !== ADAM_DEFAULTS.betas[0] || c.betas[1] !== ADAM_DEFAULTS.betas[1]) return { field: 'betas', expected: `no betas with sgd (${adam})`, message: `used by sgd (${adam})` };
    if (c.eps !== ADAM_DEFAULTS.eps) return { field: 'eps', expected: `no eps with sgd (${adam})`, message: `used by sgd (${adam})` };
  } else {
    const f = SGD_FIELDS.find((k) => c[k] !== SGD_DEFAULTS[k]);
    const why = `an sgd option; ${c.name} uses betas`;
    if (f) return { field: f, expected: `no ${f} with ${c.name} (${why})`, message: `used by ${c.name} (${why})` };
  }
  if (c.nesterov && (c.momentum <= 0 || c.dampening !== 0)) {
    const expected = `momentum > 0 and dampening 0 with nesterov (got momentum ${c.momentum}, dampening ${c.dampening})`;
    return { field: 'nesterov', expected, message: `possible without ${expected}` };
  }
  return undefined;
}

/** The optimizer part of the run config: field checks, PyTorch's rules, defaults (weight decay by optimizer). */
export const optimizerSchema = z.strictObject(FIELDS, {
  error: (issue) => (issue.code === 'unrecognized_keys' ? `known keys: ${KNOWN.join(', ')}` : 'an object'),
}).superRefine((c, ctx) => {
  const bad = ruleViolation(c);
  if (bad) ctx.addIssue({ code: 'custom', path: [bad.field], message: bad.message, params: { expected: bad.expected } });
}, { when: (payload) => payload.issues.length === 0 }).transform((c): ResolvedOptimizerConfig => {
  const out = Object.freeze({ ...c, weightDecay: c.weightDecay ?? defaultWeightDecay(c.name), betas: Object.freeze([c.betas[0], c.betas[1]]) as readonly [number, number] });
  resolvedConfigs.add(out);
  return out;
});

/** What a user writes (every field optional in a run config; name and lr required by createOptimizer). */
export type OptimizerConfig = Omit<z.input<typeof optimizerSchema>, 'betas'> & { betas?: readonly [number, number] };

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

/**
 * Checks an optimizer config given directly to `createOptimizer` (not through the
 * run config) and returns it resolved; UserError `<where>: optimizer field "<f>"
 * is <value>; expected <what>`. `name` and `lr` are required here. The rules are
 * the schema's: lr, eps > 0 (stricter than PyTorch's ≥ 0); momentum, dampening,
 * weight decay ≥ 0; betas in [0, 1); Nesterov needs momentum > 0 and dampening 0;
 * options of the other family set to a non-default value are errors.
 */
export function validateOptimizerConfig(c: unknown, where: string): ResolvedOptimizerConfig {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) {
    throw new UserError(`${where}: optimizer config is ${show(c)}; expected an object like {"name": "adam", "lr": 0.001}`);
  }
  const o = c as Record<string, unknown>;
  const fail = (field: string, value: unknown, expected: string): never => {
    throw new UserError(`${where}: optimizer field "${field}" is ${show(value)}; expected ${expected}`);
  };
  const unknown = Object.keys(o).find((k) => !KNOWN.includes(k));
  if (unknown !== undefined) fail(unknown, o[unknown], `no such field (known fields: ${KNOWN.join(', ')})`);
  for (const required of ['name', 'lr'] as const) if (o[required] === undefined) fail(required, undefined, required === 'name' ? `one of ${OPTIMIZER_NAMES.join(', ')}` : 'a finite number > 0');
  const result = optimizerSchema.safeParse(o);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i ? `.${String(k)}` : String(k))).join('');
    const expected = issue.code === 'custom' && issue.params?.expected ? String(issue.params.expected)
      : issue.code === 'invalid_value' ? `one of ${OPTIMIZER_NAMES.join(', ')}`
        : issue.message.replace(/^a number ([>≥])/, (_, op: string) => `a finite number ${op === '≥' ? '>=' : '>'}`);
    fail(field, issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown>)?.[k], o), expected);
  }
  return result.data!;
}

/** A resolved config: as it is when it came from the schema, else validated (see validateOptimizerConfig). */
export function resolveOptimizerConfig(c: OptimizerConfig | ResolvedOptimizerConfig, where = 'optimizer'): ResolvedOptimizerConfig {
  return resolvedConfigs.has(c) ? (c as ResolvedOptimizerConfig) : validateOptimizerConfig(c, where);
}
