/**
 * Resident memory over a long run of the reference workload (sum, fused plan,
 * 2 workers): one JSON line every 1,000 steps with RSS and V8 heap figures, then
 * the growth from step 1,000 and from step 5,000 (after the heap has sized
 * itself) to the last step. With `small`, the small tabular model (penguins'
 * shape) with computeOn auto, which moves its jobs to the coordinator thread.
 *
 *   node dist/scripts/memory.js [steps=20000] [small]
 */
import { createWorkloadTrainer, referenceConfig, SMALL_SHAPE, workloadConfig } from './reference-workload.js';

const steps = Number(process.argv[2] ?? 20_000);
const small = process.argv.includes('small');
const mib = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
const trainer = await createWorkloadTrainer(small
  ? workloadConfig(SMALL_SHAPE, { workers: 2, computeOn: 'auto' })
  : referenceConfig({ workers: 2 }));
const rss: Record<number, number> = {};
try {
  // a thousand steps per call: fused steps on the threads run back to back, as in fit()
  for (let i = 1000; i <= steps; i += 1000) {
    await trainer.step(1000);
    const m = process.memoryUsage();
    rss[i] = m.rss;
    console.log(JSON.stringify({ bench: 'memory', step: i, rssMiB: mib(m.rss), heapTotalMiB: mib(m.heapTotal), heapUsedMiB: mib(m.heapUsed) }));
  }
  const last = rss[steps];
  console.log(JSON.stringify({
    bench: 'memory-growth', workload: small ? 'small' : 'reference', computeOn: trainer.placement.placement, steps,
    fromStep1000: rss[1000] ? Number((last / rss[1000] - 1).toFixed(4)) : null,
    fromStep5000: rss[5000] ? Number((last / rss[5000] - 1).toFixed(4)) : null,
  }));
} finally {
  await trainer.close();
}
