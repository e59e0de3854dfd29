// The thread hop of the decomposition bench measured alone, in one process with no Redis: CPU
// per call (all threads) of running the no-op task on bare worker_threads (level r) and through
// an offload pool (level d), 8 threads, 8 calls in flight, each call begun in a macrotask of its
// own as remote jobs are.
//   npm run build && node bench/remote/hop-alone.mjs [calls = 20000]
import { startRawThreads } from './raw-threads.mjs';
import { createPool } from '../../dist/index.js';

const CALLS = Number(process.argv[2] ?? 20_000);
const THREADS = 8;
const tasks = new URL('../tasks/remote.mjs', import.meta.url);

async function offloadPool() {
  const pool = createPool(tasks, { size: THREADS, minSize: THREADS, idleTimeout: Infinity });
  await pool.warmup();
  return { run: (name, args) => pool.run(name, args), close: () => pool.close() };
}

function drive(run) {
  return new Promise((resolve) => {
    let sent = 0;
    let done = 0;
    const next = () => {
      if (++done === CALLS) resolve();
      else if (sent < CALLS) {
        sent++;
        setImmediate(() => run('add', [1, 2]).then(next));
      }
    };
    for (; sent < THREADS; sent++) run('add', [1, 2]).then(next);
  });
}

for (const [label, start] of [['bare worker_threads', () => startRawThreads(THREADS)], ['offload pool', offloadPool]]) {
  const { run, close } = await start();
  await drive(run); // warm-up
  const before = process.cpuUsage();
  await drive(run);
  const used = process.cpuUsage(before);
  console.log(`${label.padEnd(20)} ${((used.user + used.system) / CALLS).toFixed(1)} µs CPU per call`);
  await close();
}
