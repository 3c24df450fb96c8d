import { closeSync, constants, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';

export const LOCK_FILE = 'lock';

interface LockHolder {
  pid: number;
  host: string;
  since: string;
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

function readHolder(path: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return Number.isSafeInteger(h.pid) && typeof h.host === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** A lock of a process of this host that no longer runs. */
function isStale(h: LockHolder): boolean {
  if (h.host !== hostname()) return false;
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

const describe = (h: LockHolder | undefined) => (h ? `process ${h.pid} on ${h.host} since ${h.since}` : 'a process that left no readable pid');

/**
 * The one writer of a directory: `<dir>/lock`, created atomically (O_EXCL,
 * never through a link), holding the pid, host and start time as JSON. A lock
 * left by a process of this host that no longer runs is taken over (with a
 * notice to `warn`); any other holder is a one-line UserError naming it.
 * Released by `release()` and, failing that, when the process exits.
 */
export class DirectoryLock {
  private released = false;
  private readonly onExit = () => this.release();

  private constructor(readonly path: string, private readonly holder: LockHolder) {
    process.on('exit', this.onExit);
  }

  static acquire(dir: string, warn: (line: string) => void = () => {}): DirectoryLock {
    const path = join(dir, LOCK_FILE);
    const holder: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    for (let attempt = 0; ; attempt++) {
      let fd: number;
      try {
        fd = openSync(path, CREATE, 0o644);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw lockError(dir, path, e);
        const other = readHolder(path);
        if (!other || !isStale(other)) throw new UserError(`${dir}: in use by ${describe(other)} (lock ${path}); wait for it to finish, or remove the lock if no such process runs`);
        takeOver(path, other);
        warn(`${dir}: took over the lock of ${describe(other)}, which no longer runs`);
        continue;
      }
      try {
        writeSync(fd, `${JSON.stringify(holder)}\n`);
      } finally {
        closeSync(fd);
      }
      return new DirectoryLock(path, holder);
    }
  }

  /** Removes the lock (if it is still this one); idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    const now = readHolder(this.path);
    if (now && now.pid === this.holder.pid && now.since === this.holder.since && now.host === this.holder.host) rmSync(this.path, { force: true });
  }
}

/** Moves a stale lock aside; if what was moved is not the stale lock (another process took over first), puts it back. */
function takeOver(path: string, stale: LockHolder): void {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return; // gone already: the next attempt decides
  }
  const moved = readHolder(aside);
  if (moved && (moved.pid !== stale.pid || moved.since !== stale.since)) {
    renameSync(aside, path);
    throw new UserError(`${path}: in use by ${describe(moved)}`);
  }
  rmSync(aside, { force: true });
}

function lockError(dir: string, path: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EEXIST') return new UserError(`${dir}: in use by ${describe(readHolder(path))} (lock ${path})`);
  if (code === 'ELOOP') return new UserError(`${path}: is a symbolic link; refusing to write through it`);
  return e as Error;
}
