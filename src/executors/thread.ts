import { Worker, type ResourceLimits, type TransferListItem } from 'node:worker_threads';
import type { MainMessage, WorkerInit, WorkerMessage } from '../protocol/messages.js';
import { entryUrl, typeScriptLoader, type Executor, type WorkerEvents, type WorkerExit, type WorkerHandle } from './executor.js';

export interface ThreadExecutorOptions {
  resourceLimits?: ResourceLimits | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  execArgv?: string[] | undefined;
}

const entry = entryUrl('thread-entry');

// Where a worker must load TypeScript, a tiny bootstrap registers the loader, then loads the real
// entry. Only dynamic import(), so it runs whether the inherited flags make eval code CommonJS
// or ESM (`--input-type=module`). Errors surface as the worker's own uncaught error. Otherwise
// the thread starts from the entry file itself (eval code, and its extra import, cost a worker's
// start-up about 2 ms), unless its flags hold `--input-type`, which Node refuses for a file.
const BOOTSTRAP = `
(async () => {
  const { workerData } = await import('node:worker_threads');
  if (workerData.loader) (await import(workerData.loader)).register();
  await import(workerData.entry);
})().catch((error) => process.nextTick(() => { throw error; }));
`;

export class ThreadExecutor implements Executor {
  readonly sharesMemory = true;
  readonly #options: ThreadExecutorOptions;

  constructor(options: ThreadExecutorOptions = {}) {
    this.#options = options;
  }

  spawn(init: WorkerInit, events: WorkerEvents): WorkerHandle {
    const loader = typeScriptLoader(init.moduleUrl);
    const isBootstrapped = loader !== undefined || hasInputType(this.#options.execArgv ?? process.execArgv);
    const worker = new Worker(isBootstrapped ? BOOTSTRAP : entry, {
      eval: isBootstrapped,
      workerData: isBootstrapped ? { ...init, entry: entry.href, loader } : init,
      name: `${init.poolName}#${init.workerId}`,
      resourceLimits: this.#options.resourceLimits,
      env: this.#options.env,
      // Inherit the parent's flags (for example `--import tsx`, so `.ts` task modules load).
      execArgv: this.#options.execArgv,
    });
    let fatal: unknown;
    worker.on('message', events.message as (message: WorkerMessage) => void);
    worker.on('error', (error) => {
      fatal = error;
    });
    worker.on('exit', (exitCode) => {
      const exit: WorkerExit = { exitCode, signal: null };
      if (fatal !== undefined) {
        exit.error = fatal;
        const code = (fatal as { code?: unknown }).code;
        exit.reason =
          code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out of memory' : fatal instanceof Error ? fatal.message : String(fatal);
      }
      events.exit(exit);
    });
    return {
      post: (message: MainMessage, transfer: readonly TransferListItem[]) => worker.postMessage(message, transfer),
      ref: () => worker.ref(),
      unref: () => worker.unref(),
      terminate: () => void worker.terminate(),
    };
  }
}

/**
 * Whether a worker with `flags` (inherited or given) would be told the type of string input, as
 * by `node --input-type=module -e`, or `NODE_OPTIONS` which every thread of the process reads.
 */
function hasInputType(flags: readonly string[]): boolean {
  return flags.some((flag) => flag === '--input-type' || flag.startsWith('--input-type=')) || (process.env.NODE_OPTIONS ?? '').includes('--input-type');
}
