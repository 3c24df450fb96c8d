import { suggestion } from '../trainer/config-messages.js';
import { UserError } from '../util/errors.js';

/** Option value parsers: each throws a UserError naming the option, the value and what was expected. */

export function positiveInt(option: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
      throw new UserError(`${option}: ${JSON.stringify(text)} is not a positive integer`);
    }
    return n;
  };
}

export function nonNegativeInt(option: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n)) {
      throw new UserError(`${option}: ${JSON.stringify(text)} is not a non-negative integer`);
    }
    return n;
  };
}

export function finiteNumber(option: string, check: (n: number) => boolean = () => true, expected = 'a finite number') {
  return (text: string): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UserError(`${option}: ${JSON.stringify(text)} is not ${expected}`);
    return n;
  };
}

export function choice<T extends string>(option: string, allowed: readonly T[]) {
  return (text: string): T => {
    if (!allowed.includes(text as T)) throw new UserError(`${option}: ${JSON.stringify(text)} is not one of ${allowed.join(', ')}${suggestion(text, allowed)}`);
    return text as T;
  };
}

/** `a=0.1,b=2` → { a: 0.1, b: 2 }, values checked by `value`. */
export function keyValues(option: string, value: (text: string) => number) {
  return (text: string, previous: Record<string, number> = {}): Record<string, number> => {
    const out = { ...previous };
    for (const part of text.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new UserError(`${option}: ${JSON.stringify(part)} is not of the form task=value (e.g. species=0.01,sex=0.003)`);
      out[part.slice(0, eq).trim()] = value(part.slice(eq + 1));
    }
    return out;
  };
}

/** A comma-separated list of positive integers, e.g. trunk widths `64,64`. */
export function intList(option: string) {
  const one = positiveInt(option);
  return (text: string): number[] => text.split(',').map((part) => one(part));
}

/** Repeatable and comma-separable string option. */
export function collect(text: string, previous: string[] = []): string[] {
  return [...previous, ...text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)];
}
