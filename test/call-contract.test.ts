/**
 * The call contract, checked on random programs (fast-check): random sequences of calls (good,
 * failing, hostile arguments, thrown hostile values, worker exits, unknown names), with random
 * deadlines, aborts and priorities, through `run` and `submit`, with streams, then `close`,
 * `close({ timeout })` or `destroy`. Every call settles exactly once with an outcome its kind
 * allows, the main process sees no uncaught exception or unhandled rejection, and the pool ends
 * whole. Bounded: a fixed number of runs per executor; fast-check prints the seed and the
 * shrunk program on failure (replay with `{ seed, path }`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type * as Hostile from './fixtures/hostile.js';
import { localExecutors, poolFor, type ExecutorName } from './helpers.js';

const RUNS = Number(process.env.OFFLOAD_PROPERTY_RUNS ?? 6);
const SEED = Number(process.env.OFFLOAD_PROPERTY_SEED ?? Date.now() % 2 ** 31);

type Kind = 'add' | 'nap' | 'sleep' | 'throws' | 'hostileThrow' | 'hostileArg' | 'unsendable' | 'unknown' | 'exit' | 'stream';

interface Call {
  kind: Kind;
  via: 'run' | 'submit';
  timeout: number | undefined;
  abort: 'none' | 'before' | number;
  priority: number;
  key: string | undefined;
  ms: number;
}

type Ending = 'close' | 'closeTimeout' | 'destroy';

const callArbitrary: fc.Arbitrary<Call> = fc.record({
  kind: fc.constantFrom<Kind>('add', 'add', 'nap', 'sleep', 'throws', 'hostileThrow', 'hostileArg', 'unsendable', 'unknown', 'exit', 'stream'),
  via: fc.constantFrom<'run' | 'submit'>('run', 'submit'),
  // Deadlines and aborts of 0 to 2 ms land in the same turns as the dispatch they race.
  timeout: fc.option(fc.constantFrom(1, 2, 5, 30, 200, Infinity, 2 ** 31), { nil: undefined }),
  abort: fc.oneof(fc.constant<'none'>('none'), fc.constant<'before'>('before'), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 40 })),
  priority: fc.integer({ min: -2, max: 2 }),
  key: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
  ms: fc.integer({ min: 0, max: 30 }),
});

const programArbitrary = fc.record({
  calls: fc.array(callArbitrary, { minLength: 1, maxLength: 14 }),
  /** How many of the calls are made before the pool starts to end; the rest come after. */
  endAfter: fc.nat(),
  ending: fc.constantFrom<Ending>('close', 'closeTimeout', 'destroy'),
  /** Tasks a worker holds at once: above 1, a worker's exit fails the others it held too. */
  concurrency: fc.constantFrom(1, 2),
  /** Calls made from inside the pool's own events (a task starting, finishing), as listeners may. */
  reentrant: fc.boolean(),
});

type Program = { calls: Call[]; endAfter: number; ending: Ending; concurrency: number; reentrant: boolean };

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Codes any call may end with, given how it was made. */
function circumstantialCodes(call: Call, program: Program): Set<string> {
  const { ending } = program;
  const codes = new Set<string>();
  // A worker holding several tasks takes them all down when one of them exits it.
  if (program.concurrency > 1 && program.calls.some((other) => other.kind === 'exit')) codes.add('ERR_OFFLOAD_WORKER_EXITED');
  if (call.timeout !== undefined && call.timeout !== Infinity && call.timeout < 2 ** 31) codes.add('ERR_OFFLOAD_TIMEOUT');
  if (call.abort !== 'none') codes.add('ERR_OFFLOAD_ABORTED');
  if (ending !== 'close') codes.add('ERR_OFFLOAD_CLOSED');
  return codes;
}

/** Whether `outcome` is one that a call of this kind may have. */
function allowed(call: Call, program: Program, outcome: Outcome, afterEnd: boolean): boolean {
  const code = outcome.ok ? undefined : (outcome.error as { code?: unknown } | null)?.code;
  if (afterEnd) return code === 'ERR_OFFLOAD_CLOSED';
  if (!outcome.ok && typeof code === 'string' && circumstantialCodes(call, program).has(code)) return true;
  switch (call.kind) {
    case 'add':
      return outcome.ok && outcome.value === call.ms + 1;
    case 'nap':
    case 'sleep':
      return outcome.ok && outcome.value === call.ms;
    case 'stream':
      return outcome.ok && Array.isArray(outcome.value) && outcome.value.length === 3;
    case 'throws':
      return !outcome.ok && (outcome.error as Error).message === 'rows must be positive' && code === 'BAD_ROWS';
    case 'hostileThrow':
      return !outcome.ok && outcome.error instanceof Error && code === undefined;
    case 'hostileArg':
    case 'unsendable':
      return code === 'ERR_OFFLOAD_NOT_CLONEABLE';
    case 'unknown':
      return code === 'ERR_OFFLOAD_UNKNOWN_TASK';
    case 'exit':
      return code === 'ERR_OFFLOAD_WORKER_EXITED';
  }
}

function taskOf(call: Call): { name: string; args: unknown[] } {
  switch (call.kind) {
    case 'add':
      return { name: 'add', args: [call.ms, 1] };
    case 'nap':
      return { name: 'nap', args: [call.ms] };
    case 'sleep':
      return { name: 'sleep', args: [call.ms] };
    case 'throws':
      return { name: 'throwClientError', args: [] };
    case 'hostileThrow':
      return { name: call.ms % 2 === 0 ? 'throwWithMessageGetter' : 'throwRevokedProxy', args: [] };
    case 'hostileArg':
      return { name: 'add', args: [{ get x(): never { throw new Error('hostile getter'); } }, 1] };
    case 'unsendable':
      return { name: 'returnFunction', args: [] };
    case 'unknown':
      return { name: 'teardown#constructor', args: [] };
    case 'exit':
      return { name: 'exitWorker', args: [7] };
    case 'stream':
      return { name: 'items', args: [3, -1] };
  }
}

/** Makes one call; resolves with its outcome once, and counts every settlement it sees. */
function makeCall(pool: ReturnType<typeof poolFor<typeof Hostile>>, call: Call, settlements: number[], index: number): Promise<Outcome> {
  const controller = new AbortController();
  if (call.abort === 'before') controller.abort(new Error('aborted before'));
  else if (typeof call.abort === 'number') setTimeout(() => controller.abort(new Error('aborted later')), call.abort);
  const options = { timeout: call.timeout, priority: call.priority, key: call.key, signal: call.abort === 'none' ? undefined : controller.signal };
  const { name, args } = taskOf(call);
  const untyped = pool as unknown as {
    run(name: string, args: unknown[], options: object): Promise<unknown>;
    submit(name: string, args: unknown[], callback: (error: unknown, value?: unknown) => void, options: object): void;
    stream(name: string, args: unknown[], options: object): AsyncIterable<unknown>;
  };
  const settle = (outcome: Outcome): Outcome => {
    settlements[index] = settlements[index]! + 1;
    return outcome;
  };
  if (call.kind === 'stream') {
    return (async () => {
      const items: unknown[] = [];
      try {
        for await (const item of untyped.stream(name, args, options)) items.push(item);
        return settle({ ok: true, value: items });
      } catch (error) {
        return settle({ ok: false, error });
      }
    })();
  }
  if (call.via === 'submit') {
    return new Promise((resolve) => {
      // Every invocation is counted: a second one would be a broken contract.
      untyped.submit(name, args, (error, value) => resolve(settle(error ? { ok: false, error } : { ok: true, value })), options);
    });
  }
  return untyped.run(name, args, options).then(
    (value) => settle({ ok: true, value }),
    (error: unknown) => settle({ ok: false, error }),
  );
}

async function runProgram(executor: ExecutorName, program: Program): Promise<void> {
  const pool = poolFor<typeof Hostile>('hostile.ts', executor, { size: 2, cancelGracePeriod: 50, concurrentTasksPerWorker: program.concurrency });
  const endAfter = program.endAfter % (program.calls.length + 1);
  const settlements = program.calls.map(() => 0);
  const outcomes: Array<Promise<Outcome>> = [];
  // Made from inside the pool's events: each settles once, with its value or, the pool ended, ERR_OFFLOAD_CLOSED.
  const reentered: Array<Promise<unknown>> = [];
  if (program.reentrant) {
    let budget = 4;
    const reenter = ({ id }: { id: number }): void => {
      if (budget-- <= 0) return;
      reentered.push(
        pool.run('add', [id, 1], { priority: id % 3, key: id % 2 === 0 ? 'a' : undefined }).then(
          (value) => assert.equal(value, id + 1),
          (error: unknown) => assert.equal((error as { code?: unknown }).code, 'ERR_OFFLOAD_CLOSED', String(error)),
        ),
      );
    };
    pool.on('taskStarted', reenter);
    pool.on('taskFinished', reenter);
  }
  for (let i = 0; i < endAfter; i++) outcomes.push(makeCall(pool, program.calls[i]!, settlements, i));
  const ended =
    program.ending === 'destroy' ? pool.destroy() : pool.close(program.ending === 'closeTimeout' ? { timeout: 20 } : {});
  for (let i = endAfter; i < program.calls.length; i++) outcomes.push(makeCall(pool, program.calls[i]!, settlements, i));
  let hung: NodeJS.Timeout | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    hung = setTimeout(() => reject(new Error(`calls or the pool's end never settled: ${JSON.stringify(settlements)}`)), 60_000);
  });
  try {
    const settled = await Promise.race([Promise.all(outcomes), watchdog]);
    await Promise.race([ended, watchdog]);
    // Calls made from events may start others, up to the budget.
    for (let seen = -1; seen !== reentered.length; ) {
      seen = reentered.length;
      await Promise.race([Promise.all(reentered), watchdog]);
    }
    settled.forEach((outcome, i) => {
      const call = program.calls[i]!;
      assert.ok(allowed(call, program, outcome, i >= endAfter), `call ${i} (${JSON.stringify(call)}) ended with ${show(outcome)}`);
    });
  } finally {
    clearTimeout(hung);
  }
  // Exactly once: a late second callback or settlement would show here, after the pool ended.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(settlements, program.calls.map(() => 1));
  const stats = pool.stats();
  assert.deepEqual({ size: stats.size, busy: stats.busy, queued: stats.queued }, { size: 0, busy: 0, queued: 0 }, 'the pool ended whole');
}

function show(outcome: Outcome): string {
  if (outcome.ok) return `value ${JSON.stringify(outcome.value)}`;
  const error = outcome.error as { code?: unknown; message?: unknown } | null;
  return `error ${String(error?.code)}: ${String(error?.message)}`;
}

describe('the call contract holds on random programs', () => {
  for (const executor of localExecutors()) {
    test(`${executor}: every call settles once with an allowed outcome, nothing escapes, the pool ends whole`, { timeout: 240_000 }, async () => {
      const escaped: unknown[] = [];
      const onEscape = (error: unknown): void => void escaped.push(error);
      process.on('uncaughtException', onEscape);
      process.on('unhandledRejection', onEscape);
      try {
        await fc.assert(
          fc.asyncProperty(programArbitrary, async (program) => {
            await runProgram(executor, program);
            assert.deepEqual(escaped, [], 'no uncaught exception or unhandled rejection');
          }),
          { numRuns: RUNS, seed: SEED, endOnFailure: true },
        );
      } catch (error) {
        // The reporter does not print a cause: the counterexample goes in the message.
        const detail = error instanceof Error ? error.message : String(error);
        throw Object.assign(new Error(`property failed (seed ${SEED}; rerun with OFFLOAD_PROPERTY_SEED=${SEED}): ${detail}`), { cause: error });
      } finally {
        process.off('uncaughtException', onEscape);
        process.off('unhandledRejection', onEscape);
      }
    });
  }
});
