/**
 * An operating-system error on a path (a directory where a file should be, a
 * full disk, a read-only file system, a name too long) as one line naming the
 * path and what went wrong: a UserError (exit 2) when the user named the wrong
 * kind of path, a RunError (exit 1) when the system failed.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isReportedError, RunError, UserError } from './errors.js';

/** What the user named wrong: their path to fix. */
const USER_CODES: Record<string, string> = {
  EISDIR: 'is a directory, expected a file',
  ENOTDIR: 'a part of the path is a file, not a directory',
  ENAMETOOLONG: 'name too long (at most 255 bytes a name, 4095 a path)',
  ENOENT: 'no such file or directory',
  EEXIST: 'already exists',
  ELOOP: 'too many levels of symbolic links',
};

/** What the system refused: not a typo. */
const SYSTEM_CODES: Record<string, string> = {
  ENOSPC: 'no space left on the device (disk full)',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EIO: 'input/output error',
  EFBIG: 'file too large',
};

/** A Node.js system error (fs, net): it has a string `code` such as ENOENT. */
export function isErrnoError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && !isReportedError(e) && typeof (e as NodeJS.ErrnoException).code === 'string' && /^E[A-Z0-9]+$/.test((e as NodeJS.ErrnoException).code!);
}

/** A path for a message: a very long one shortened in the middle, with its length. */
function showPath(path: string): string {
  return path.length <= 200 ? path : `${path.slice(0, 80)}…${path.slice(-80)} (${path.length} characters)`;
}

/**
 * mkdir -p on a read-only file system or in a directory the user may not write
 * reports ENOENT: the real reason is found on the nearest ancestor that exists.
 */
function mkdirReason(path: string): NodeJS.ErrnoException | undefined {
  for (let p = resolve(path); ; p = dirname(p)) {
    try {
      if (!statSync(p).isDirectory()) return Object.assign(new Error('ENOTDIR'), { code: 'ENOTDIR', path: p });
      accessSync(p, constants.W_OK);
      return undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return Object.assign(new Error(code), { code, path: p });
    }
    if (dirname(p) === p) return undefined;
  }
}

/**
 * The one-line error for an OS error `e` on `path` (default: the error's own
 * path, or its destination for a rename or copy); `e` itself when it is not an
 * OS error. `action` says what was being done ("write", "read").
 */
export function osError(e: unknown, path?: string, action?: string): unknown {
  if (!isErrnoError(e)) return e;
  let code = e.code!;
  const where = path ?? (e as { dest?: string }).dest ?? e.path;
  let at = '';
  if (e.syscall === 'mkdir') {
    action ??= 'create the directory';
    // EEXIST from mkdir -p: a file stands where the directory should be
    if (code === 'EEXIST') code = 'ENOTDIR';
    const real = code === 'ENOENT' && e.path ? mkdirReason(e.path) : undefined;
    if (real) {
      code = real.code!;
      at = ` (at ${showPath(real.path!)})`;
    }
  }
  const what = USER_CODES[code] ?? SYSTEM_CODES[code] ?? e.message.replace(/^E[A-Z0-9]+: /, '').replace(/, \w+ '.*$/, '');
  const message = `${where === undefined ? '' : `${showPath(where)}: `}${action ? `cannot ${action}: ` : ''}${what}${at}`;
  const err = USER_CODES[code] ? new UserError(message) : new RunError(message);
  return Object.assign(err, { code });
}

/** Runs `f`; an OS error it throws becomes osError(e, path, action). */
export function withPath<T>(path: string, action: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw osError(e, path, action);
  }
}
