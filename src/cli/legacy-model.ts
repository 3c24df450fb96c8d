/**
 * The preprocessing of a weights file written before weights files carried it
 * (no "multitask" metadata, see src/model/model.ts): rebuilt from its run
 * directory's config.json, as `multitask eval` always did — the same data,
 * seed and validation fraction give the same split, hence the same
 * standardization (fitted on the training rows) and the same classes.
 *
 * Not in model/: it needs the run config and the data loaders, and model/ may
 * import only util/ and kernels/. The package entry (src/index.ts) hands
 * `legacyPreprocessing` to `Model.load` (Model.legacyPreprocessing); the CLI
 * passes the data of its run or config to Model.load explicitly.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { preprocessingOf, type Preprocessing } from '../model/preprocessing.js';
import { resolveConfig } from '../trainer/config.js';
import { loadData } from '../trainer/data-source.js';
import { RunDirectory } from '../trainer/run-dir.js';
import { RUN_FILES } from '../trainer/run-format.js';
import { UserError } from '../util/errors.js';
import { setupFromRun, type RunSetup } from './train.js';

/** A run directory's config (its config.json, any format). */
export function runSetup(runDir: string): RunSetup {
  const opened = RunDirectory.open(runDir);
  return setupFromRun(opened.config, join(resolve(runDir), RUN_FILES.config), undefined);
}

/** The dataset of a config, loaded on this thread (no Trainer, no worker pool). */
export function setupDataset(setup: RunSetup): Dataset {
  return loadData(resolveConfig(setup.config, setup.source));
}

/** The preprocessing of a run, rebuilt from its config.json and its data. */
export function legacyPreprocessing(runDir: string): Preprocessing {
  if (!existsSync(join(runDir, RUN_FILES.config))) {
    throw new UserError(`${runDir}: no ${RUN_FILES.config}: a weights file written before weights files carried their preprocessing (no "multitask" metadata) needs its run directory next to it (or write a new one with \`multitask export <run> --out file.safetensors\`)`);
  }
  return preprocessingOf(setupDataset(runSetup(runDir)));
}
