/**
 * Node built-ins that only one executor or option needs, loaded on first use instead of with
 * `offload`. Every worker whose task module imports `offload` (for `transfer()`, `isCancelled()`...)
 * loads it too, and a thread pool should not pay at start-up for `child_process`, `crypto`, `net`
 * or `v8`, each several milliseconds to load, when only the process or remote executor uses them;
 * nor a worker for `fs` and `os` when it has no `niceIncrement` to apply, nor for `url` before a
 * task throws. `fs` and `os` come from here for the pool too: see `loader`.
 */
import { createRequire } from 'node:module';

let require: ((id: string) => unknown) | undefined;

/**
 * Node ≥ 20.16 hands out a built-in as is, in a fraction of a millisecond. `createRequire` (older
 * 20.x) costs a couple of ms, and an ESM `import` of `node:fs` more: it reads every export, whose
 * lazy getters load streams and `net`.
 */
function loader(): (id: string) => unknown {
  const getBuiltinModule = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  return getBuiltinModule === undefined ? createRequire(import.meta.url) : (id) => getBuiltinModule.call(process, id);
}

function onFirstUse<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= (require ??= loader())(id) as T);
}

export const childProcess = onFirstUse<typeof import('node:child_process')>('node:child_process');
export const crypto = onFirstUse<typeof import('node:crypto')>('node:crypto');
export const net = onFirstUse<typeof import('node:net')>('node:net');
export const v8 = onFirstUse<typeof import('node:v8')>('node:v8');
export const fs = onFirstUse<typeof import('node:fs')>('node:fs');
export const os = onFirstUse<typeof import('node:os')>('node:os');
export const url = onFirstUse<typeof import('node:url')>('node:url');
