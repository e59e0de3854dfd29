/**
 * Node built-ins that only one executor or option needs, loaded on first use instead of with
 * `offload`. Every worker whose task module imports `offload` (for `transfer()`, `isCancelled()`...)
 * loads it too, and a thread pool should not pay at start-up for `child_process`, `crypto`, `net`
 * or `v8`, each several milliseconds to load, when only the process or remote executor uses them;
 * nor a worker for `fs` and `os` when it has no `niceIncrement` to apply.
 */
import { createRequire } from 'node:module';

let require: NodeJS.Require | undefined;

function onFirstUse<T>(id: string): () => T {
  let loaded: T | undefined;
  // `createRequire` itself costs about a millisecond: only when a built-in is first needed.
  return () => (loaded ??= (require ??= createRequire(import.meta.url))(id) as T);
}

export const childProcess = onFirstUse<typeof import('node:child_process')>('node:child_process');
export const crypto = onFirstUse<typeof import('node:crypto')>('node:crypto');
export const net = onFirstUse<typeof import('node:net')>('node:net');
export const v8 = onFirstUse<typeof import('node:v8')>('node:v8');
export const fs = onFirstUse<typeof import('node:fs')>('node:fs');
export const os = onFirstUse<typeof import('node:os')>('node:os');
