/**
 * Learning-rate schedules: pure functions of the optimizer step.
 *
 * `t` is the 0-based index of the optimizer step about to be taken (the number
 * of steps already taken; a `sequential` round counts as one step for every
 * task's optimizer). `base` is the optimizer's learning rate (or the task's
 * `taskLr` under `sequential`).
 *
 * - constant: lr(t) = base.
 * - step:     lr(t) = base · gamma^⌊t / stepSize⌋ (torch.optim.lr_scheduler.StepLR
 *             stepped after every optimizer step). gamma defaults to 0.1.
 * - cosine:   linear warm-up, then cosine decay to minLr (default 0) over the run:
 *               t < W:       lr(t) = base · (t + 1) / W
 *               W ≤ t < T:   lr(t) = minLr + (base − minLr) · (1 + cos(π·(t − W)/(T − W))) / 2
 *               t ≥ T:       lr(t) = minLr
 *             with W = warmupSteps (default 0) and T = totalSteps, or
 *             totalEpochs × steps per epoch. The first warm-up step already
 *             moves (base/W, not 0); after the warm-up the decay is
 *             torch's CosineAnnealingLR with T_max = T − W and eta_min = minLr.
 */
import { UserError } from '../util/errors.js';

export type LrScheduleKind = 'constant' | 'step' | 'cosine';
export const LR_SCHEDULE_KINDS: readonly LrScheduleKind[] = ['constant', 'step', 'cosine'];

export interface LrSchedule {
  kind: LrScheduleKind;
  /** step: steps between two multiplications by gamma (positive integer). */
  stepSize?: number;
  /** step: the factor (finite, > 0; default 0.1). */
  gamma?: number;
  /** cosine: warm-up steps (non-negative integer; default 0). */
  warmupSteps?: number;
  /** cosine: the learning rate at the end (finite, ≥ 0, at most the base rate; default 0). */
  minLr?: number;
  /** cosine: the horizon T in steps (positive integer, > warmupSteps). */
  totalSteps?: number;
  /** cosine: the horizon in epochs, when totalSteps is not given (T = totalEpochs × steps per epoch). */
  totalEpochs?: number;
}

/** Which fields each kind takes. */
export const SCHEDULE_FIELDS: Readonly<Record<LrScheduleKind, readonly (keyof LrSchedule)[]>> = {
  constant: [],
  step: ['stepSize', 'gamma'],
  cosine: ['warmupSteps', 'minLr', 'totalSteps', 'totalEpochs'],
};

/** The defaults: StepLR's gamma, no warm-up, decay to 0. */
export const SCHEDULE_DEFAULTS = { gamma: 0.1, warmupSteps: 0, minLr: 0 } as const;

function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

const isInt = (v: unknown, min: number) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
const isFinite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

/**
 * Checks a schedule (plain data, e.g. from a config file); UserError naming
 * `where` and the field otherwise. Returns a copy with only the kind's fields.
 */
export function checkSchedule(value: unknown, where = 'schedule'): LrSchedule {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UserError(`${where}: ${show(value)} is not a schedule (an object with "kind": ${LR_SCHEDULE_KINDS.join(', ')})`);
  }
  const s = value as Record<string, unknown>;
  const kind = s.kind as LrScheduleKind;
  if (!LR_SCHEDULE_KINDS.includes(kind)) throw new UserError(`${where}.kind: ${show(s.kind)} is not one of ${LR_SCHEDULE_KINDS.join(', ')}`);
  const allowed = SCHEDULE_FIELDS[kind];
  for (const key of Object.keys(s)) {
    if (key === 'kind' || s[key] === undefined) continue;
    if (!(allowed as readonly string[]).includes(key)) {
      const owner = LR_SCHEDULE_KINDS.find((k) => (SCHEDULE_FIELDS[k] as readonly string[]).includes(key));
      throw new UserError(owner
        ? `${where}.${key}: applies to kind "${owner}", not "${kind}"`
        : `${where}.${key}: unknown field (kind "${kind}" takes ${allowed.length ? allowed.join(', ') : 'no other field'})`);
    }
  }
  const out: LrSchedule = { kind };
  if (kind === 'step') {
    if (s.stepSize === undefined) throw new UserError(`${where}.stepSize: missing; kind "step" needs it (a positive integer: steps between decays)`);
    if (!isInt(s.stepSize, 1)) throw new UserError(`${where}.stepSize: ${show(s.stepSize)} is not a positive integer (steps between decays)`);
    out.stepSize = s.stepSize as number;
    if (s.gamma !== undefined) {
      if (!isFinite(s.gamma) || (s.gamma as number) <= 0) throw new UserError(`${where}.gamma: ${show(s.gamma)} is not a number > 0`);
      out.gamma = s.gamma as number;
    }
  } else if (kind === 'cosine') {
    if (s.warmupSteps !== undefined) {
      if (!isInt(s.warmupSteps, 0)) throw new UserError(`${where}.warmupSteps: ${show(s.warmupSteps)} is not a non-negative integer`);
      out.warmupSteps = s.warmupSteps as number;
    }
    if (s.minLr !== undefined) {
      if (!isFinite(s.minLr) || (s.minLr as number) < 0) throw new UserError(`${where}.minLr: ${show(s.minLr)} is not a number ≥ 0`);
      out.minLr = s.minLr as number;
    }
    if (s.totalSteps !== undefined && s.totalEpochs !== undefined) {
      throw new UserError(`${where}: give totalSteps or totalEpochs, not both`);
    }
    if (s.totalSteps !== undefined) {
      if (!isInt(s.totalSteps, 1)) throw new UserError(`${where}.totalSteps: ${show(s.totalSteps)} is not a positive integer`);
      if ((s.totalSteps as number) <= (out.warmupSteps ?? 0)) {
        throw new UserError(`${where}.totalSteps: ${s.totalSteps} is not more than warmupSteps (${out.warmupSteps})`);
      }
      out.totalSteps = s.totalSteps as number;
    }
    if (s.totalEpochs !== undefined) {
      if (!isInt(s.totalEpochs, 1)) throw new UserError(`${where}.totalEpochs: ${show(s.totalEpochs)} is not a positive integer`);
      out.totalEpochs = s.totalEpochs as number;
    }
  }
  return out;
}

/** The learning rate of step `t` (see the module comment); `totalSteps` is the cosine horizon T. */
export function learningRate(schedule: LrSchedule, base: number, t: number, totalSteps?: number): number {
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'step':
      return base * (schedule.gamma ?? SCHEDULE_DEFAULTS.gamma) ** Math.floor(t / schedule.stepSize!);
    case 'cosine': {
      const W = schedule.warmupSteps ?? SCHEDULE_DEFAULTS.warmupSteps;
      const minLr = schedule.minLr ?? SCHEDULE_DEFAULTS.minLr;
      const T = totalSteps ?? schedule.totalSteps;
      if (T === undefined) throw new Error('learningRate: a cosine schedule needs its horizon (totalSteps)');
      if (t < W) return (base * (t + 1)) / W;
      if (t >= T) return minLr;
      return minLr + ((base - minLr) * (1 + Math.cos((Math.PI * (t - W)) / (T - W)))) / 2;
    }
  }
}

/**
 * lr(t) for one optimizer: checks the schedule against its base rate and fills
 * the cosine horizon (totalSteps, or totalEpochs × stepsPerEpoch). `where`
 * names the schedule in messages (e.g. `taskSchedules.species`).
 */
export function scheduleFunction(schedule: LrSchedule | undefined, base: number, stepsPerEpoch: number,
  where = 'schedule'): (t: number) => number {
  if (schedule === undefined || schedule.kind === 'constant') return () => base;
  const s = checkSchedule(schedule, where);
  if (s.kind === 'step') return (t) => learningRate(s, base, t);
  const minLr = s.minLr ?? 0;
  if (minLr > base) throw new UserError(`${where}.minLr: ${minLr} is above the learning rate it decays from (${base})`);
  const total = s.totalSteps ?? (s.totalEpochs === undefined ? undefined : s.totalEpochs * stepsPerEpoch);
  if (total === undefined) throw new UserError(`${where}: a cosine schedule needs totalSteps or totalEpochs (the horizon of the decay)`);
  const W = s.warmupSteps ?? 0;
  if (total <= W) throw new UserError(`${where}: the horizon (${total} steps) is not longer than the warm-up (${W} steps)`);
  return (t) => learningRate(s, base, t, total);
}

/** One line for the console, e.g. `cosine (warm-up 100 steps, to 0.0001 over 900 steps)`. */
export function describeSchedule(schedule: LrSchedule | undefined, stepsPerEpoch?: number): string {
  if (!schedule || schedule.kind === 'constant') return 'constant';
  if (schedule.kind === 'step') return `step (×${schedule.gamma ?? SCHEDULE_DEFAULTS.gamma} every ${schedule.stepSize} steps)`;
  const total = schedule.totalSteps ?? (schedule.totalEpochs !== undefined && stepsPerEpoch !== undefined
    ? schedule.totalEpochs * stepsPerEpoch : undefined);
  const horizon = total !== undefined ? `${total} steps` : `${schedule.totalEpochs} epochs`;
  return `cosine (warm-up ${schedule.warmupSteps ?? 0} steps, to ${schedule.minLr ?? 0} over ${horizon})`;
}
