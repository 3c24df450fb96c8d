/*
 * src/protocol/: what crosses between the coordinator and its workers: the msgpackr
 * codec (this file), gradient frames, the in-process arena and mailboxes, the job
 * messages and what running one means (job-executor.ts), injected faults for tests.
 * May import: util, kernels, model, optim, strategies, data.
 */
import { Packr } from 'msgpackr';

/**
 * Version of every message and frame; a peer speaking another version is rejected.
 * 2: four loss statistics per task (LOSS_WEIGHT) and class weights in the model spec.
 */
export const PROTOCOL_VERSION = 2;

/**
 * The one msgpackr configuration, used by the coordinator and the workers alike.
 * Plain maps (no record structures to keep in sync between peers); typed arrays
 * keep their type. Decoded maps are plain objects, and msgpackr renames a
 * `__proto__` key rather than assigning it, so decoding cannot pollute prototypes.
 */
export const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true });
