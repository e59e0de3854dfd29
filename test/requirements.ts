/**
 * What some suites need beyond Node: a `redis-server` (the remote executor) and a Chromium (the
 * dashboard). Each is found on PATH, or where an environment variable names it. A machine
 * without one skips those suites, saying why and how to install it, so the summary's skipped
 * count shows them; with OFFLOAD_TEST_REQUIRE_ALL=1 (as .ci/run sets) a missing one fails instead,
 * so CI never passes having skipped them.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';

export interface Requirement {
  /** What needs it, for the skip line: "the remote executor". */
  readonly purpose: string;
  /** The binary's path, when one was found. */
  readonly path: string | undefined;
  /** Why it is missing and how to install it; undefined when found. */
  readonly missing: string | undefined;
}

/** An executable file, found as `name` when it holds a slash, else on `searchPath`. */
export function findExecutable(names: readonly string[], searchPath = process.env.PATH ?? ''): string | undefined {
  for (const name of names) {
    const candidates = name.includes('/') ? [name] : searchPath.split(delimiter).filter(Boolean).map((dir) => join(dir, name));
    const found = candidates.find(isExecutableFile);
    if (found !== undefined) return found;
  }
  return undefined;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

interface Spec {
  purpose: string;
  /** The variable that names the binary (a path, or a name to look up on PATH). */
  variable: string;
  /** Names to look up on PATH when the variable is unset. */
  names: readonly string[];
  install: string;
}

/** Finds a requirement's binary: where its variable names it when set (and only there), else on PATH. */
export function requirement(spec: Spec, env: NodeJS.ProcessEnv = process.env): Requirement {
  const named = env[spec.variable];
  const path = findExecutable(named ? [named] : spec.names, env.PATH ?? '');
  const where = named ? `${spec.variable}=${named} is not an executable` : `${spec.names.join(', ')} not found on PATH`;
  const missing = path === undefined ? `${where}; install it (${spec.install}) or set ${spec.variable} to its path` : undefined;
  return { purpose: spec.purpose, path, missing };
}

export const redisServer = requirement({
  purpose: 'the remote executor (needs redis-server)',
  variable: 'OFFLOAD_TEST_REDIS_SERVER',
  names: ['redis-server'],
  install: 'apt-get install redis-server, brew install redis, or https://redis.io/docs/latest/operate/oss_and_stack/install/',
});

export const chromium = requirement({
  purpose: 'the dashboard in a browser (needs Chromium)',
  variable: 'OFFLOAD_TEST_CHROMIUM',
  names: ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'],
  install: 'apt-get install chromium, or brew install --cask chromium',
});

/** Whether a missing requirement fails the run instead of skipping (CI sets it). */
export const requireAll = (): boolean => process.env.OFFLOAD_TEST_REQUIRE_ALL === '1';

/**
 * Registers what `suite` registers when `needed` is found, else the missing requirement's test
 * in its place (see `registerMissing`).
 */
export function whenAvailable(needed: Requirement, title: string, suite: () => void): void {
  if (needed.missing === undefined) suite();
  else registerMissing(needed, title);
}

/**
 * One test standing for the suites a missing requirement keeps from running: skipped with the
 * reason and the install command, or failing with them under OFFLOAD_TEST_REQUIRE_ALL=1.
 */
export function registerMissing(needed: Requirement, title: string): void {
  const reason = `${needed.purpose}: ${needed.missing}`;
  if (requireAll()) {
    test(title, () => {
      throw new Error(`${reason} (OFFLOAD_TEST_REQUIRE_ALL=1 forbids skipping it)`);
    });
  } else {
    test(title, { skip: reason }, () => {});
  }
}
