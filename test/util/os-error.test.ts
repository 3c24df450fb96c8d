import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/util/atomic-file.js';
import { RunError, UserError } from '../../src/util/errors.js';
import { osError } from '../../src/util/os-error.js';
import { mountTmpfs } from '../helpers/tmpfs.js';

const dir = mkdtempSync(join(tmpdir(), 'multitask-os-error-'));

/** The error `f` throws. */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

/** An error as Node's fs makes it. */
const errno = (code: string, syscall: string, path?: string) =>
  Object.assign(new Error(`${code}: something, ${syscall}${path ? ` '${path}'` : ''}`), { code, syscall, path, errno: -1 });

describe('osError: an errno on a path as one line', () => {
  it('the wrong kind of path is a UserError (exit 2) naming it', () => {
    const e = osError(errno('EISDIR', 'open', '/x/y'), undefined, 'read') as Error;
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe('/x/y: cannot read: is a directory, expected a file');
    expect((osError(errno('ENOTDIR', 'open', '/f/a')) as Error).message).toBe('/f/a: a part of the path is a file, not a directory');
  });

  it('a system failure is a RunError (exit 1); the path given wins over the error\'s own', () => {
    for (const [code, what] of [['ENOSPC', 'no space left on the device (disk full)'], ['EROFS', 'the file system is read-only'], ['EACCES', 'permission denied']]) {
      const e = osError(errno(code, 'write'), '/runs/a/weights.safetensors', 'write') as RunError;
      expect(e).toBeInstanceOf(RunError);
      expect(e.exitCode).toBe(1);
      expect(e.message).toBe(`/runs/a/weights.safetensors: cannot write: ${what}`);
    }
  });

  it('anything else passes through unchanged', () => {
    const plain = new Error('boom');
    expect(osError(plain)).toBe(plain);
    const user = new UserError('x');
    expect(osError(user)).toBe(user);
  });
});

describe('writeFileAtomic on a failing path', () => {
  it('a directory where the file should be: UserError naming it, no temporary file left', () => {
    const target = join(dir, 'a-dir');
    mkdirSync(target);
    const e = thrown(() => writeFileAtomic(target, 'x'));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`${target}: cannot write: is a directory, expected a file`);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a name too long (a real one): UserError, path shortened in the message', () => {
    const target = join(dir, 'n'.repeat(300));
    const e = thrown(() => writeFileAtomic(target, 'x'));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(/^\/.*n…n+ \(\d+ characters\): cannot write: name too long/);
    expect(e.message.length).toBeLessThan(300);
  });

  const fs = mountTmpfs('64k');
  afterAll(() => fs?.unmount());

  it.skipIf(!fs)('disk full (a 64 KiB tmpfs): RunError, the previous file intact, no temporary file left', () => {
    const target = join(fs!.dir, 'checkpoint.ckpt');
    writeFileAtomic(target, 'old contents');
    const e = thrown(() => writeFileAtomic(target, new Uint8Array(1 << 20)));
    expect(e).toBeInstanceOf(RunError);
    expect(e.message).toBe(`${target}: cannot write: no space left on the device (disk full)`);
    expect(readFileSync(target, 'utf8')).toBe('old contents');
    expect(readdirSync(fs!.dir)).toEqual(['checkpoint.ckpt']);
  });

  it.skipIf(!fs)('a read-only file system: RunError naming the file, the file intact', () => {
    const target = join(fs!.dir, 'weights.safetensors');
    writeFileSync(target, 'old');
    fs!.remountReadOnly();
    const e = thrown(() => writeFileAtomic(target, 'new'));
    expect(e).toBeInstanceOf(RunError);
    expect(e.message).toBe(`${target}: cannot write: the file system is read-only`);
    expect(readFileSync(target, 'utf8')).toBe('old');
  });
});
