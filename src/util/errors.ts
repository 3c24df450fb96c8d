/**
 * A mistake in what the user gave us (option, config, data file). The CLI prints
 * its message on one line and exits with code 2, without a stack trace.
 * Messages name the source (file and line, or option), the field, the value
 * and what was expected.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  readonly exitCode = 2;
}

/** True for errors that are the user's to fix (also across worker threads, where the class is lost). */
export function isUserError(e: unknown): e is Error {
  return e instanceof UserError || (e instanceof Error && e.name === 'UserError');
}
