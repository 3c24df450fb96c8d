/**
 * `npm run bench [-- cluster | architectures]`: with no argument, the kernel bench then the
 * training-step bench (scripts/bench.ts, scripts/bench-step.ts); with
 * `cluster`, the cluster bench (scripts/bench-cluster.ts); with `architectures`,
 * shared vs MMoE vs PLE on the MMoE paper's synthetic study (scripts/bench-architectures.ts). Each runs in its own
 * process; other arguments (--quick, ...) are passed on.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const benches = args.includes('cluster') ? ['bench-cluster.js']
  : args.includes('architectures') ? ['bench-architectures.js'] : ['bench.js', 'bench-step.js'];
const rest = args.filter((a) => a !== 'cluster' && a !== 'architectures');
for (const bench of benches) {
  const { status } = spawnSync(process.execPath, [fileURLToPath(new URL(bench, import.meta.url)), ...rest], { stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
}
