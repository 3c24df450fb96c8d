import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A tiny tmpfs (`size`, e.g. '64k'; `ro` for read-only) mounted on a new
 * directory, or undefined where mounting is not allowed (not root, no
 * CAP_SYS_ADMIN): the tests that need a full or read-only file system skip then.
 */
export function mountTmpfs(size: string, ro = false): { dir: string; remountReadOnly(): void; unmount(): void } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'multitask-tmpfs-'));
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}${ro ? ',ro' : ''}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mount.status !== 0) return undefined;
  return {
    dir,
    remountReadOnly: () => { spawnSync('mount', ['-o', 'remount,ro', dir]); },
    unmount: () => { spawnSync('umount', [dir]); },
  };
}
