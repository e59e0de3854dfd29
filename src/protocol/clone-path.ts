import { NotCloneableError } from '../errors.js';
import { quoted } from '../quoted.js';

/**
 * Finds which part of a value structured clone rejects, so the error can name it
 * (`args[0].conn`). Runs only after a send failed, so it may be slow; it asks the real
 * algorithm at each level rather than guessing which types clone.
 */
export function findUncloneablePath(value: unknown, path: string, sends: (value: unknown) => boolean = clones, depth = 0): string | undefined {
  if (sends(value)) return undefined;
  if (depth < 32 && value !== null && typeof value === 'object') {
    const entries = childEntries(value, path);
    for (const [innerPath, inner] of entries) {
      const found = findUncloneablePath(inner, innerPath, sends, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return path;
}

/** Whether structured clone (a thread's port) takes `value`. */
function clones(value: unknown): boolean {
  if (typeof value === 'function' || typeof value === 'symbol') return false;
  if (value === null || typeof value !== 'object') return true;
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The parts of an object to look into, each with the path that names it (map keys included).
 * Reading a part runs the caller's code (a getter, a Proxy trap), which may throw: a part that
 * cannot be read is reported as one that cannot be sent, and an object whose keys cannot even be
 * listed has no parts, so the search names the object itself.
 */
export function childEntries(value: object, path: string): Array<[string, unknown]> {
  try {
    if (value instanceof Map) {
      return [...value].flatMap(([key, inner], i): Array<[string, unknown]> => [
        [`${path}[map key ${i}]`, key],
        [`${path}.get(${describeKey(key, i)})`, inner],
      ]);
    }
    if (value instanceof Set) return [...value].map((inner, i): [string, unknown] => [`${path}[set item ${i}]`, inner]);
    const isArray = Array.isArray(value);
    return Object.keys(value).map((key): [string, unknown] => [
      isArray && /^\d{1,10}$/.test(key) ? `${path}[${key}]` : `${path}${propertyPath(key)}`,
      readPart(value, key),
    ]);
  } catch {
    return [];
  }
}

/** Stands for a part whose getter threw: not cloneable, and not looked into. */
const UNREADABLE = Symbol('unreadable');

function readPart(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return UNREADABLE;
  }
}

export function propertyPath(key: string): string {
  return /^[A-Za-z_$][\w$]{0,79}$/.test(key) ? `.${key}` : `[${quoted(key)}]`;
}

export function describeKey(key: unknown, index: number): string {
  return typeof key === 'string' ? quoted(key) : typeof key === 'number' ? String(key) : `#${index}`;
}

/** The error for a stream's item number `index`, which its channel refused (a thread's port, Redis). */
export function itemRefusal(item: unknown, index: number, error: unknown, sends: (value: unknown) => boolean = clones): NotCloneableError {
  const root = `item[${index}]`;
  // The process executor's own refusal names the path below `item`; keep it, with the index.
  if (error instanceof NotCloneableError) return new NotCloneableError(error.path.replace(/^item/, root), error.cause);
  return new NotCloneableError(findUncloneablePath(item, root, sends) ?? root, error);
}
