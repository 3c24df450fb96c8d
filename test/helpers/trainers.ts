/** Trainers for tests: every one created here is closed after its test, whatever happened. */
import { afterEach } from 'vitest';
import type { TrainerConfig } from '../../src/trainer/config.js';
import { Trainer, type CreateOptions } from '../../src/trainer/trainer.js';

const open: Trainer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

export async function createTrainer(config: TrainerConfig = {}, options: CreateOptions = {}): Promise<Trainer> {
  const trainer = await Trainer.create(config, options);
  open.push(trainer);
  return trainer;
}

/** True when two float arrays hold the same bits. */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
