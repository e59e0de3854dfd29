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
// or ESM (`--input-type=module`). Errors surface as the worker's own uncaught error. Where no
// flag could tell the two apart, the thread starts from the entry file itself instead: eval
// code, and its extra import, cost a worker's start-up about 2 ms.
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
    const isBootstrapped = loader !== undefined || startsDifferentlyFromFile(this.#options);
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

/** Read as offload loads: an application may clear it before it creates a pool, yet its threads keep it. */
const STARTING_NODE_OPTIONS = process.env.NODE_OPTIONS;

/**
 * Flags under which a thread started from a file behaves otherwise than one started from eval
 * code: Node refuses a file entry with `--input-type` (as `node --input-type=module -e` passes
 * on), and runs `--import` preloads in a file-started thread only (an application's tracing SDK,
 * say, or tsx: 50 ms and more in every thread). Loader hooks keep the start they always had.
 */
const EVAL_SENSITIVE = new Set(['--input-type', '--import', '--loader', '--experimental-loader']);

/** Whether a thread started with these options could tell a file entry from eval code; in doubt, yes. */
function startsDifferentlyFromFile(options: ThreadExecutorOptions): boolean {
  const env = options.env;
  // The thread reads NODE_OPTIONS from its own environment (the `env` option), and keeps the
  // process's: both count.
  const nodeOptions = [process.env.NODE_OPTIONS, STARTING_NODE_OPTIONS, typeof env === 'object' ? env.NODE_OPTIONS : undefined];
  const flags = [...(options.execArgv ?? process.execArgv), ...nodeOptions.flatMap((value) => value?.split(/\s+/) ?? [])];
  // Node reads `_` as `-` in a flag's name (`--input_type`).
  return flags.some((flag) => EVAL_SENSITIVE.has(flag.split('=', 1)[0]!.replaceAll('_', '-')));
}
