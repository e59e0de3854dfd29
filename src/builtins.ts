/**
 * Node built-ins that only one executor needs, loaded on first use instead of with `offload`.
 * Every worker whose task module imports `offload` (for `transfer()`, `isCancelled()`...) loads
 * it too, and a thread pool should not pay at start-up for `child_process`, `crypto`, `net` or
 * `v8`, each several milliseconds to load, when only the process or remote executor uses them.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function onFirstUse<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}

export const childProcess = onFirstUse<typeof import('node:child_process')>('node:child_process');
export const crypto = onFirstUse<typeof import('node:crypto')>('node:crypto');
export const net = onFirstUse<typeof import('node:net')>('node:net');
export const v8 = onFirstUse<typeof import('node:v8')>('node:v8');
