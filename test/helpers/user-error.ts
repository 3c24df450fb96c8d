import { expect } from 'vitest';
import { UserError } from '../../src/util/errors.js';

/** The one-line UserError message `f` throws; fails the test when it throws anything else, or nothing. */
export function userErrorMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected a UserError');
}

/** The message of the error of class `type` that `f` throws; fails the test when it throws anything else, or nothing. */
export function errorMessage(f: () => unknown, type: new (...args: never[]) => Error): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(type);
    return (e as Error).message;
  }
  throw new Error(`expected a ${type.name}`);
}

/** What `f` gives or the message it throws, as one comparable value (same input, two readers: same outcome). */
export function outcome(f: () => unknown): { ok: unknown } | { error: string } {
  try {
    return { ok: f() };
  } catch (e) {
    return { error: (e as Error).message };
  }
}
