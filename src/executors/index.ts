/**
 * Picks the executor named in the pool's options. The thread executor comes at once; the others
 * load their code when a pool first asks for them (a dynamic import), so that importing offload
 * for a pool of threads compiles neither the process executor nor the remote one (with its Redis
 * link and codec): about 40% of the library's source.
 */
import type { ResolvedOptions } from '../pool/options.js';
import { resolveOnce, type Executor } from './executor.js';
import { ThreadExecutor } from './thread.js';

export function createExecutor(options: ResolvedOptions): Executor | Promise<Executor> {
  switch (options.executor) {
    case 'thread':
      return new ThreadExecutor(options);
    case 'process':
      return afterLoading(processCode(), ({ ProcessExecutor }) => new ProcessExecutor(options));
    case 'remote':
      // Optional peer dependencies: missing ones fail the pool's creation, not its first call.
      for (const name of ['bullmq', 'ioredis']) {
        if (resolveOnce(name) === undefined) throw new TypeError(`executor: 'remote' needs the ${name} package: npm install bullmq ioredis`);
      }
      return afterLoading(remoteCode(), ({ RemoteExecutor }) => new RemoteExecutor(options.remote!, options.maxQueue !== Infinity));
  }
}

// Loaded once, then handed out synchronously: a later pool starts its first worker within its
// constructor, as a pool of threads does. Another `import()` would cost it a turn of the event
// loop, and under a module loader's hooks (tsx, an APM agent's) a round trip to the hooks' thread
// for every pool: a process pool created under tsx reached its first result 3 to 4 ms later.
const processCode = loadOnce(() => import('./process.js'));
const remoteCode = loadOnce(() => import('./remote.js'));

function loadOnce<T>(load: () => Promise<T>): () => T | Promise<T> {
  let loaded: T | undefined;
  let loading: Promise<T> | undefined;
  return () =>
    loaded ??
    (loading ??= load().then(
      (value) => (loaded = value),
      (error: unknown) => {
        // Not kept: the next pool tries again. Only a failed resolution can come out otherwise:
        // Node keeps a file's failed load or evaluation for its URL.
        loading = undefined;
        throw error;
      },
    ));
}

function afterLoading<T, R>(code: T | Promise<T>, then: (code: T) => R): R | Promise<R> {
  return code instanceof Promise ? code.then(then) : then(code);
}
