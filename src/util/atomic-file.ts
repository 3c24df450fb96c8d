import { closeSync, constants, copyFileSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Opens a new file for writing: never an existing one, never through a symbolic link. */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

const temporaryPath = (path: string) => join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);

/** True for the name of a temporary file writeFileAtomic leaves when killed mid-write. */
export function isTemporaryFile(name: string): boolean {
  return /^\..+\.\d+\.\d+\.tmp$/.test(name);
}

/**
 * Writes a file so that a crash at any moment leaves either the old file or the
 * new one, never a torn one: temporary file in the same directory (created
 * new, never through a link), fsync, rename over the target (a symbolic link
 * there is replaced, not followed), fsync of the directory (so the rename
 * itself is durable).
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = temporaryPath(path);
  const fd = openSync(tmp, CREATE_NEW, 0o644);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameInto(tmp, path);
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
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  renameInto(tmp, path);
}

function renameInto(tmp: string, path: string): void {
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
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
