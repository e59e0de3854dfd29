/**
 * The Node flags of a worker process. `child_process.fork` passes the parent's flags on as they
 * are, but some describe how the parent was started rather than how Node should behave, and
 * break or hijack a child: `-e`/`-p` would run the parent's script instead of the worker,
 * `--input-type` is refused without `-e`, `--test` and `--watch` would start a runner, and
 * `--inspect-brk` would stop every worker for a debugger on the parent's port.
 */

/** Flags dropped from the inherited ones; `true` when the flag's value may follow as the next argument. */
const PARENT_ONLY: ReadonlyMap<string, boolean> = new Map([
  ['-e', true],
  ['--eval', true],
  ['-p', true],
  ['--print', true],
  ['-c', false],
  ['--check', false],
  ['-i', false],
  ['--interactive', false],
  ['--input-type', true],
  ['--test', false],
  ['--test-only', false],
  ['--test-reporter', true],
  ['--test-reporter-destination', true],
  ['--test-name-pattern', true],
  ['--test-skip-pattern', true],
  ['--test-concurrency', true],
  ['--test-timeout', true],
  ['--test-shard', true],
  ['--experimental-test-coverage', false],
  ['--watch', false],
  ['--watch-path', true],
  ['--watch-preserve-output', false],
  ['--inspect', false],
  ['--inspect-brk', false],
  ['--inspect-wait', false],
  ['--inspect-port', true],
  ['--debug-port', true],
]);

/** Flags that load code before the entry; their tsx entries are replaced by the worker's own loader. */
const PRELOADS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r']);
const TSX = /^tsx(\/|$)/;

export interface FlagOptions {
  /** The flags given in the pool's options, used as they are; else the parent's, filtered. */
  execArgv: readonly string[] | undefined;
  /** URL of a module that registers TypeScript support, when the worker must load `.ts`. */
  loader: string | undefined;
  maxOldSpaceSizeMb: number | undefined;
}

export function workerFlags(options: FlagOptions, inherited: readonly string[] = process.execArgv): string[] {
  const flags = options.execArgv !== undefined ? [...options.execArgv] : filterInherited(inherited, options.loader !== undefined);
  if (options.loader !== undefined) flags.push('--import', options.loader);
  // Last, so it wins over any limit among the inherited flags.
  if (options.maxOldSpaceSizeMb !== undefined) flags.push(`--max-old-space-size=${options.maxOldSpaceSizeMb}`);
  return flags;
}

/**
 * The parent's flags without those that only make sense for the parent. With a loader of its
 * own, a worker also drops a bare `--import tsx`: registering twice is wasted start-up, and a
 * bare specifier would resolve against the worker's `cwd`, which may have no `node_modules`.
 */
function filterInherited(inherited: readonly string[], hasLoader: boolean): string[] {
  const kept: string[] = [];
  for (let i = 0; i < inherited.length; i++) {
    const flag = inherited[i]!;
    const equals = flag.indexOf('=');
    const written = flag.startsWith('--') && equals !== -1 ? flag.slice(0, equals) : flag;
    const hasInlineValue = written !== flag;
    // Node reads `_` as `-` in a long flag's name (`--input_type`).
    const name = written.startsWith('--') ? written.replaceAll('_', '-') : written;
    const takesValue = PARENT_ONLY.get(name);
    if (takesValue !== undefined) {
      if (takesValue === true && !hasInlineValue) i++;
      continue;
    }
    if (hasLoader && PRELOADS.has(name)) {
      const value = hasInlineValue ? flag.slice(equals + 1) : inherited[i + 1];
      if (value !== undefined && TSX.test(value)) {
        if (!hasInlineValue) i++;
        continue;
      }
    }
    kept.push(flag);
  }
  return kept;
}
