/**
 * The seed's `@run_on_executor` demo: four concurrent calls to a blocking method, each running
 * in its own worker, on that worker's own instance of the class. The caller's instance holds
 * something no worker could receive (a timer handle), and it never has to: nothing of it
 * crosses the boundary.
 *
 *   node --import tsx examples/decorator-demo.ts [thread|process]
 */
import { blocking, createPool, isWorker } from 'offload';

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class Sleeper {
  readonly heartbeat = isWorker() ? undefined : setInterval(() => {}, 1000);

  @blocking({ pool: () => pool })
  async blockForLongTime(i: number): Promise<string> {
    console.log(`Starting ${i}`);
    sleepSync(1000);
    console.log(`Stopping ${i}`);
    return `result ${i}`;
  }
}

/** The executor named on the command line; in a worker the pool never starts, so none is needed. */
function executorFromArguments(): 'thread' | 'process' | undefined {
  if (isWorker()) return undefined;
  const name = process.argv[2] ?? 'thread';
  if (name !== 'thread' && name !== 'process') {
    console.error(`usage: node --import tsx examples/decorator-demo.ts [thread|process] (got ${name})`);
    process.exit(2);
  }
  return name;
}

// This module is also the pool's task module: the same file runs in the workers, where the
// pool below is created but never started, and where `Sleeper` is what the pool calls. With
// processes, the workers' lines reach this terminal prefixed with `[offload#<worker>]`.
export const pool = createPool(new URL(import.meta.url), { size: 4, executor: executorFromArguments() });

if (!isWorker()) {
  await pool.warmup();
  const sleeper = new Sleeper();
  const calls = [0, 1, 2, 3].map((i) => {
    console.log(`spawned ${i}`);
    return sleeper.blockForLongTime(i).then((result) => console.log(`got ${result}`));
  });
  await Promise.all(calls);
  clearInterval(sleeper.heartbeat);
  await pool.close();
  console.log('Done.');
}
