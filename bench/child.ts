/**
 * Runs one scenario against one pool, in this fresh process, and prints its metrics as one JSON
 * line. `node bench/build/child.js <pool> <scenario> <measureMs>`; run.ts spawns it.
 */
import { isPoolName, loadAdapter, workerFileOf } from './adapters/adapter.js';
import { isScenarioName, SCENARIOS } from './scenarios/index.js';

const [pool = '', scenario = '', measureArgument = ''] = process.argv.slice(2);
const measureMs = Number(measureArgument);
if (!isPoolName(pool) || !isScenarioName(scenario) || !(measureMs > 0)) {
  console.error('usage: child.js <pool> <scenario> <measureMs>');
  process.exit(2);
}

const metrics = await SCENARIOS[scenario]({
  pool,
  loadPool: () => loadAdapter(pool),
  workerFile: workerFileOf(pool),
  measureMs,
});
// maxRSS is in KiB: the high-water mark of the whole process, pool threads included.
metrics.maxRssMiB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify(metrics)}\n`);
// A library that leaves a handle open must not hold up the run.
process.exit(0);
