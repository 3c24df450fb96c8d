/*
 * src/util/: small helpers every folder may use: user errors (this file), the
 * seeded random number generator, atomic file writes, the package root.
 * May import: no other folder.
 */
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

/**
 * A run that cannot go on (a non-finite loss or gradient, a job that keeps
 * failing). Not the user's typo, but reported the same way: one line naming the
 * task and the step, no stack trace.
 */
export class RunError extends Error {
  override name = 'RunError';
  readonly exitCode: number = 1;
}

/** A NaN or infinity was about to reach the parameters (with --on-nonfinite stop). */
export class NonFiniteError extends RunError {
  override name = 'NonFiniteError';
  constructor(message: string, readonly step: number) {
    super(message);
  }
}

/** Errors the CLI reports in one line without a stack trace. */
export function isReportedError(e: unknown): e is Error {
  return isUserError(e) || e instanceof RunError;
}
