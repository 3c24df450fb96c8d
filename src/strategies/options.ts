/**
 * Strategy options: validation of user input (config file, CLI, API) against each
 * strategy's `options` specs, with a UserError naming the strategy, the option,
 * its value and what was expected.
 */

import { UserError } from '../util/errors.js';
import type { AnyStrategy, OptionSpec, OptionValue, StrategyOptions } from './types.js';

function show(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'undefined';
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 80 ? s.slice(0, 77) + '...' : s;
  } catch {
    return String(v);
  }
}

/** "a number ≥ 0 and < 1", "an integer ≥ 1", "a list of numbers ≥ 0". */
export function describeSpec(spec: OptionSpec): string {
  const bounds: string[] = [];
  if (spec.min !== undefined) bounds.push(`≥ ${spec.min}`);
  if (spec.above !== undefined) bounds.push(`> ${spec.above}`);
  if (spec.max !== undefined) bounds.push(`≤ ${spec.max}`);
  if (spec.below !== undefined) bounds.push(`< ${spec.below}`);
  const what = spec.type === 'integer' ? 'an integer' : spec.type === 'numbers' ? 'a list of numbers' : 'a number';
  return bounds.length === 0 ? what : `${what} ${bounds.join(' and ')}`;
}

function inBounds(v: number, spec: OptionSpec): boolean {
  if (!Number.isFinite(v)) return false;
  if (spec.type === 'integer' && !Number.isSafeInteger(v)) return false;
  if (spec.min !== undefined && !(v >= spec.min)) return false;
  if (spec.max !== undefined && !(v <= spec.max)) return false;
  if (spec.above !== undefined && !(v > spec.above)) return false;
  if (spec.below !== undefined && !(v < spec.below)) return false;
  return true;
}

/** A number, or a string holding one (CLI input); NaN otherwise. */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  return NaN;
}

/** Checks one option value against its spec; returns it typed (strings parsed, "1,2,3" for lists). */
export function checkOption(strategy: string, key: string, value: unknown, spec: OptionSpec): OptionValue {
  const fail = (): never => {
    throw new UserError(`strategy ${strategy}: option "${key}" is ${show(value)}; expected ${describeSpec(spec)}`);
  };
  if (spec.type === 'numbers') {
    const list = typeof value === 'string'
      ? (value.trim() === '' ? [] : value.split(',').map(toNumber))
      : Array.isArray(value) || ArrayBuffer.isView(value) ? Array.from(value as ArrayLike<unknown>, toNumber) : null;
    if (list === null || !list.every((x) => inBounds(x, { ...spec, type: 'number' }))) fail();
    return list as number[];
  }
  const v = toNumber(value);
  if (!inBounds(v, spec)) fail();
  return v;
}

/**
 * The options of `strategy` with defaults filled in, from user input. Rejects
 * unknown options (listing the known ones) and values outside their spec.
 */
export function resolveOptions<O extends StrategyOptions>(strategy: AnyStrategy, raw: Record<string, unknown> = {}): O {
  const out: StrategyOptions = { ...strategy.defaults };
  const specs = strategy.options as Record<string, OptionSpec>;
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(specs, key)) {
      const known = Object.keys(specs);
      throw new UserError(`strategy ${strategy.name}: unknown option "${key}"; `
        + (known.length === 0 ? 'it takes no options' : `its options are ${known.join(', ')}`));
    }
    out[key] = checkOption(strategy.name, key, value, specs[key]);
  }
  return out as O;
}
