import { Worker } from 'node:worker_threads';
import { entryUrl, typeScriptLoader } from './executor.js';
const entry = entryUrl('thread-entry').href;
// A tiny bootstrap: registers the TypeScript loader when one is needed, then loads the real
// entry. Only dynamic import(), so it runs whether the inherited flags make eval code CommonJS
// or ESM (`--input-type=module`). Errors surface as the worker's own uncaught error.
const BOOTSTRAP = `
(async () => {
  const { workerData } = await import('node:worker_threads');
  if (workerData.loader) (await import(workerData.loader)).register();
  await import(workerData.entry);
})().catch((error) => process.nextTick(() => { throw error; }));
`;
export class ThreadExecutor {
    sharesMemory = true;
    #options;
    constructor(options = {}) {
        this.#options = options;
    }
    spawn(init, events) {
        const worker = new Worker(BOOTSTRAP, {
            eval: true,
            workerData: { ...init, entry, loader: typeScriptLoader(init.moduleUrl) },
            name: `${init.poolName}#${init.workerId}`,
            resourceLimits: this.#options.resourceLimits,
            env: this.#options.env,
            // Inherit the parent's flags (for example `--import tsx`, so `.ts` task modules load).
            execArgv: this.#options.execArgv,
        });
        let fatal;
        worker.on('message', events.message);
        worker.on('error', (error) => {
            fatal = error;
        });
        worker.on('exit', (exitCode) => {
            const exit = { exitCode, signal: null };
            if (fatal !== undefined) {
                exit.error = fatal;
                const code = fatal.code;
                exit.reason =
                    code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out of memory' : fatal instanceof Error ? fatal.message : String(fatal);
            }
            events.exit(exit);
        });
        return {
            post: (message, transfer) => worker.postMessage(message, transfer),
            ref: () => worker.ref(),
            unref: () => worker.unref(),
            terminate: () => void worker.terminate(),
        };
    }
}
