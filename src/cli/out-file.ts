import { existsSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../util/errors.js';

/**
 * The one rule for files a command writes where the user says (`--out`,
 * `--save-weights`): never onto one of the command's inputs; an existing file
 * only with --force. A UserError naming the option otherwise.
 */
export function checkOutputFile(path: string, option: string, options: { force?: boolean; inputs?: readonly (string | undefined)[] }): void {
  if (!existsSync(path)) return;
  const real = realpathSync(path);
  const input = options.inputs?.find((i) => i !== undefined && existsSync(i) && realpathSync(i) === real);
  if (input !== undefined) throw new UserError(`${option} ${path}: that is an input of this command (${resolve(input)}); write elsewhere`);
  if (statSync(path).isDirectory()) throw new UserError(`${option} ${path}: is a directory; give a file path`);
  if (!options.force) throw new UserError(`${option} ${path}: the file exists (use --force to overwrite it)`);
}
