import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { osError } from './os-error.js';

/**
 * Writes a file so that a crash at any moment leaves either the old file or the
 * new one, never a torn one: temporary file in the same directory, fsync,
 * rename over the target, fsync of the directory (so the rename itself is durable).
 * A failure (disk full, read-only, the target a directory) removes the temporary
 * file and is one line naming `path` (see os-error.ts).
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w', 0o644);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    // the previous file stays as it was, and no temporary file is left behind
    if (fd !== undefined) closeSync(fd);
    try {
      rmSync(tmp, { force: true });
    } catch {
      // never created (its name too long, say)
    }
    throw osError(e, path, 'write');
  }
  syncDirectory(dir);
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
