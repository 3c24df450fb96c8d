/**
 * The built-in Palmer penguins data set (data/penguins.json, CC0; see data/README.md):
 * three tasks on 342 birds — species (3 classes), sex (binary, partially labelled)
 * and body mass (regression) — from island, beak length, beak depth and flipper length.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';
import type { Dataset } from './dataset.js';
import { buildDataset } from './dataset-from-table.js';
import { type Table, tableFromRecords } from './table.js';
import type { TaskSpec } from './task-spec.js';

export const PENGUINS_TASKS: readonly TaskSpec[] = Object.freeze([
  { name: 'species', column: 'Species', loss: 'cross_entropy' },
  { name: 'sex', column: 'Sex', loss: 'bce_with_logits', classes: ['FEMALE', 'MALE'] },
  { name: 'body_mass', column: 'Body Mass (g)', loss: 'mse' },
] satisfies TaskSpec[]);

export const PENGUINS_FEATURES: readonly string[] = Object.freeze([
  'Island', 'Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)',
]);

let cachedPath: string | undefined;

/**
 * Absolute path of data/penguins.json. The module runs from src/data/ (tests, tsx)
 * or dist/src/data/ (compiled), so walk up from this file to the first directory
 * holding both a package.json and data/penguins.json.
 */
export function penguinsPath(): string {
  if (cachedPath) return cachedPath;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, 'data', 'penguins.json');
    if (existsSync(join(dir, 'package.json')) && existsSync(file)) return (cachedPath = file);
    if (dirname(dir) === dir) break;
  }
  throw new Error(`built-in data set data/penguins.json not found above ${start} (is the package installed completely?)`);
}

/** The raw penguins table (344 records, 7 columns). */
export function penguinsTable(): Table {
  const path = penguinsPath();
  let records: unknown;
  try {
    records = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UserError(`${path}: cannot read the built-in penguins data (${(e as Error).message})`);
  }
  return tableFromRecords('penguins.json', records as object[]);
}

export interface PenguinsOptions {
  seed?: number;
  validationFraction?: number;
}

/** The built-in multi-task data set: tasks species, sex and body_mass; 6 inputs. */
export function loadPenguins(opts: PenguinsOptions = {}): Dataset {
  return buildDataset(penguinsTable(), {
    tasks: PENGUINS_TASKS.map((t) => ({ ...t, classes: t.classes?.slice() })),
    features: PENGUINS_FEATURES.slice(),
    seed: opts.seed,
    validationFraction: opts.validationFraction,
  });
}
