import { MessageChannel, receiveMessageOnPort, Worker, type ResourceLimits, type TransferListItem } from 'node:worker_threads';
import type { MainMessage, WorkerInit, WorkerMessage } from '../protocol/messages.js';
import { entryUrl, typeScriptLoader, type Executor, type WorkerEvents, type WorkerExit, type WorkerHandle } from './executor.js';

export interface ThreadExecutorOptions {
  resourceLimits?: ResourceLimits | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  execArgv?: string[] | undefined;
}

const entry = entryUrl('thread-entry').href;

// A tiny bootstrap: registers the TypeScript loader when one is needed, then loads the real
// entry. Only dynamic import(), so it runs whether the inherited flags make eval code CommonJS
// or ESM (`--input-type=module`). Errors surface as the worker's own uncaught error. Not the
// entry file itself: Node refuses a file to a thread that inherits `--input-type`, and runs the
// application's `--import` preloads in a file-started thread (its tracing SDK, or tsx, again in
// every thread), for a saving of 0.2 to 0.5 ms per thread.
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
    // A channel of the pool's own: the thread's `parentPort` stays the task code's, and nothing
    // posted there can pass for offload's messages.
    const { port1: port, port2 } = new MessageChannel();
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: { ...init, entry, loader: typeScriptLoader(init.moduleUrl), port: port2 },
      transferList: [port2],
      name: `${init.poolName}#${init.workerId}`,
      resourceLimits: this.#options.resourceLimits,
      env: this.#options.env,
      // Inherit the parent's flags (for example `--import tsx`, so `.ts` task modules load).
      execArgv: this.#options.execArgv,
    });
    let fatal: unknown;
    const onMessage = events.message as (message: WorkerMessage) => void;
    port.on('message', onMessage);
    worker.on('error', (error) => {
      fatal = error;
    });
    worker.on('exit', (exitCode) => {
      // What the thread posted before it ended waits in the port, unlike `parentPort`'s messages,
      // which come before 'exit': read it first (the results of a batch a task cut short by
      // process.exit()), so each call hears its answer before the crash.
      for (let next = receiveMessageOnPort(port); next !== undefined; next = receiveMessageOnPort(port)) {
        onMessage(next.message as WorkerMessage);
      }
      port.close();
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
      post: (message: MainMessage, transfer: readonly TransferListItem[]) => port.postMessage(message, transfer),
      ref: () => {
        worker.ref();
        port.ref();
      },
      unref: () => {
        worker.unref();
        port.unref();
      },
      terminate: () => void worker.terminate(),
    };
  }
}
