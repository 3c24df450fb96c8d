import { closeSync, constants, copyFileSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { osError } from './os-error.js';

/** Opens a new file for writing: never an existing one, never through a symbolic link. */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

const temporaryPath = (path: string) => join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);

/** True for the name of a temporary file writeFileAtomic leaves when killed mid-write. */
export function isTemporaryFile(name: string): boolean {
  return /^\..+\.\d+\.\d+\.tmp$/.test(name);
}

/** Removes a temporary file that may not exist (its name too long to create, say). */
function removeTemporary(tmp: string): void {
  try {
    rmSync(tmp, { force: true });
  } catch {
    // never created
  }
}

/**
 * Writes a file so that a crash at any moment leaves either the old file or the
 * new one, never a torn one: temporary file in the same directory (created
 * new, never through a link), fsync, rename over the target (a symbolic link
 * there is replaced, not followed), fsync of the directory (so the rename
 * itself is durable). A failure (disk full, read-only, the target a directory)
 * removes the temporary file, leaves the previous file as it was, and is one
 * line naming `path` (see os-error.ts).
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = temporaryPath(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, CREATE_NEW, 0o644);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    removeTemporary(tmp);
    throw osError(e, path, 'write');
  }
  syncDirectory(dirname(path));
}

/** Copies `from` to `path` as writeFileAtomic writes. */
export function copyFileAtomic(from: string, path: string): void {
  const tmp = temporaryPath(path);
  try {
    copyFileSync(from, tmp, constants.COPYFILE_EXCL);
    const fd = openSync(tmp, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    removeTemporary(tmp);
    throw osError(e, path, 'write');
  }
  syncDirectory(dirname(path));
}

/** fsync of a directory entry list; a no-op where the platform refuses it. */
export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some filesystems do not allow fsync on directories; the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
