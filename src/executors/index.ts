/** Picks the executor named in the pool's options. */
import type { ResolvedOptions } from '../pool/options.js';
import type { Executor } from './executor.js';
import { ProcessExecutor } from './process.js';
import { RemoteExecutor } from './remote.js';
import { ThreadExecutor } from './thread.js';

export function createExecutor(options: ResolvedOptions): Executor {
  switch (options.executor) {
    case 'thread':
      return new ThreadExecutor(options);
    case 'process':
      return new ProcessExecutor(options);
    case 'remote':
      return new RemoteExecutor(options.remote!, options.maxQueue !== Infinity);
  }
}
