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
import { UserError } from '../util/errors.js';
import { resolveConfig, type TrainerConfig } from './config.js';
import { loadData } from './data-source.js';
import { runConfig } from './legacy-config.js';
import { RunDirectory } from './run-dir.js';
import { RUN_FILES } from './run-format.js';

/** A config and what names it in messages (a file, `Trainer.create`). */
export interface SourcedConfig {
  config: TrainerConfig;
  source: string;
}

/** A run directory's config (its config.json, any format). */
export function runDirConfig(runDir: string): SourcedConfig {
  const source = join(resolve(runDir), RUN_FILES.config);
  return { config: runConfig(RunDirectory.readConfig(runDir), source), source };
}

/** The dataset of a config, loaded on this thread (no Trainer, no worker pool). */
export function configDataset({ config, source }: SourcedConfig): Dataset {
  return loadData(resolveConfig(config, source));
}

/** The preprocessing of a run, rebuilt from its config.json and its data. */
export function legacyPreprocessing(runDir: string): Preprocessing {
  if (!existsSync(join(runDir, RUN_FILES.config))) {
    throw new UserError(`${runDir}: no ${RUN_FILES.config}: a weights file written before weights files carried their preprocessing (no "multitask" metadata) needs its run directory next to it (or write a new one with \`multitask export <run> --out file.safetensors\`)`);
  }
  return preprocessingOf(configDataset(runDirConfig(runDir)));
}
