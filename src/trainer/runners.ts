/**
 * What computes a run's gradient jobs, configured in one place: local worker
 * threads; worker processes over NATS (config `cluster`); or both
 * (`cluster.localWorkers`). Every kind fills the same arena slots, so results
 * do not depend on the choice.
 */
import type { KernelChoice } from '../kernels/index.js';
import { connectCluster } from './cluster-connection.js';
import { ClusterPool } from './cluster-pool.js';
import { AutoRunner, type PlacementChoice } from './auto-runner.js';
import type { ResolvedConfig } from './config.js';
import { InlineRunner } from './inline-runner.js';
import { HybridPool, startedOrClosed, WorkerPool, type FaultPolicy, type JobRunner, type PoolSetup } from './pool.js';

const warmed = <R extends JobRunner>(runner: R): Promise<R> => startedOrClosed(runner, (r) => r.warm());

/**
 * Starts and warms the job runner the config asks for: on local threads,
 * computeOn picks the threads, the coordinator thread, or (auto) whichever is
 * faster on this machine; `onChoice` hears what auto chose and why.
 */
export async function startJobRunner(config: ResolvedConfig, setup: PoolSetup,
  onChoice?: (choice: PlacementChoice) => void): Promise<JobRunner> {
  const faults: FaultPolicy = { retries: config.jobRetries, jobTimeoutMs: config.jobTimeoutMs };
  const cluster = config.cluster;
  if (!cluster) {
    if (config.computeOn === 'coordinator') return new InlineRunner(setup);
    const pool = await warmed(new WorkerPool(config.workers, setup, faults));
    return config.computeOn === 'auto' ? new AutoRunner(pool, new InlineRunner(setup), onChoice) : pool;
  }
  const nc = await connectCluster(cluster, 'multitask coordinator');
  const kernels: KernelChoice | undefined = cluster.kernels === undefined ? undefined
    : { backend: cluster.kernels === 'js' ? 'js' : 'native', isa: cluster.kernels };
  const remote = await ClusterPool.start(nc, setup, { url: cluster.url, waitMs: cluster.waitMs, kernels, alsoLocal: cluster.localWorkers > 0 }, faults);
  if (cluster.localWorkers === 0) return remote;
  try {
    const local = await warmed(new WorkerPool(cluster.localWorkers, { ...setup, kernels: remote.kernels }, faults));
    return new HybridPool(local, remote, setup.arena.slots);
  } catch (e) {
    await remote.close();
    throw e;
  }
}
