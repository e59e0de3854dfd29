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
      return import('./process.js').then(({ ProcessExecutor }) => new ProcessExecutor(options));
    case 'remote':
      // Optional peer dependencies: missing ones fail the pool's creation, not its first call.
      for (const name of ['bullmq', 'ioredis']) {
        if (resolveOnce(name) === undefined) throw new TypeError(`executor: 'remote' needs the ${name} package: npm install bullmq ioredis`);
      }
      return import('./remote.js').then(({ RemoteExecutor }) => new RemoteExecutor(options.remote!, options.maxQueue !== Infinity));
  }
}
