/**
 * Type test, compiled by `tsc --noEmit` in `npm test` and never run: each `@ts-expect-error`
 * line must be an error, so the build fails if typing regresses (an unused directive is an
 * error too).
 */
import { blocking, createPool, transfer, type Pool, type TaskName } from '../../src/index.js';
import { startRemoteWorker, type RemoteWorker } from '../../src/remote/index.js';
import type * as Basic from '../fixtures/basic.js';

declare const pool: Pool<typeof Basic>;
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

// Typed handles: names, arguments and results come from the module's own signatures.
const sum: Promise<number> = pool.tasks.add(1, 2);
const later: Promise<string> = pool.tasks.delayed('x', 10); // async task: Promise<Awaited<R>>
expectType<Equal<Awaited<ReturnType<typeof pool.tasks.delayed>>, string>>();
expectType<Equal<Awaited<ReturnType<typeof pool.tasks.noop>>, void>>();
// @ts-expect-error unknown task name
void pool.tasks.subtract(1, 2);
// @ts-expect-error wrong argument type
void pool.tasks.add('1', 2);
// @ts-expect-error missing argument
void pool.tasks.add(1);
// @ts-expect-error result is a number, not a string
const wrong: Promise<string> = pool.tasks.add(1, 2);
// @ts-expect-error teardown is not a task
void pool.tasks.teardown;

// run() by name: the same checks.
const byName: Promise<number> = pool.run('add', [1, 2]);
const withTransfer: Promise<number> = pool.run('sum', [transfer(new Uint8Array(4))], { transfer: [] });
// @ts-expect-error unknown task name
void pool.run('subtract', [1, 2]);
// @ts-expect-error wrong argument tuple
void pool.run('add', [1, '2']);
// @ts-expect-error arguments must be a tuple, not loose
void pool.run('add', 1, 2);

// submit(): the callback's result is typed.
pool.submit('add', [1, 2], (error, result) => {
  const n: number | undefined = result;
  // @ts-expect-error result may be undefined (when error is set)
  const s: string = result;
  void error;
  void n;
  void s;
});
// @ts-expect-error wrong argument type in submit
pool.submit('add', ['1', 2], () => {});

// TaskName excludes non-functions and teardown.
expectType<Equal<TaskName<{ a(): void; b: number; teardown(): void }>, 'a'>>();

// An untyped pool accepts any name with unknown results.
const untyped = createPool(new URL('file:///tasks.js'));
const anything: Promise<unknown> = untyped.run('whatever', [1, 'two']);

// @blocking only decorates methods that return a promise, so the caller's types stay honest.
class Service {
  @blocking({ pool: () => pool })
  async fine(n: number): Promise<number> {
    return n;
  }

  // @ts-expect-error a synchronous method cannot be @blocking: its caller would get a promise
  @blocking({ pool: () => pool })
  notAsync(n: number): number {
    return n;
  }
}
const decorated: Promise<number> = new Service().fine(1);

void [sum, later, wrong, byName, withTransfer, anything, decorated];

// Streams: a generator task's handle is an async iterable of what it yields, not a promise.
import type * as Streams from '../fixtures/streams.js';
declare const streams: Pool<typeof Streams>;
async function consume(): Promise<void> {
  for await (const n of streams.tasks.count(3)) {
    const item: number = n;
    // @ts-expect-error items are numbers
    const wrongItem: string = n;
    void item;
    void wrongItem;
  }
  for await (const row of streams.stream('slowAsync', [2, 1], { highWaterMark: 8 })) {
    const index: number = row.index;
    // @ts-expect-error no such field on the yielded type
    void row.missing;
    void index;
  }
  for await (const chunk of streams.tasks.chunks.with({ timeout: 100 })(1, 8)) {
    const bytes: Uint8Array = chunk;
    void bytes;
  }
  // @ts-expect-error a generator task's handle is not a promise of a value
  const notAPromise: Promise<number> = streams.tasks.count(3);
  // @ts-expect-error run() is for plain tasks; generator tasks stream
  void streams.run('count', [3]);
  // @ts-expect-error stream() is for generator tasks
  void streams.stream('plain', []);
  // @ts-expect-error wrong argument type for a stream
  void streams.stream('count', ['3']);
  void notAPromise;
}
void consume;

// Progress: the onProgress option on run and on the handle's options form.
const withProgress: Promise<string> = streams.run('withProgress', [10], { onProgress: (value) => void value });
const withProgressHandle: Promise<string> = streams.tasks.withProgress.with({ onProgress: () => {} })(10);
void [withProgress, withProgressHandle];

// Executors: the process executor's options are typed; an unknown executor is not.
createPool<typeof Basic>(new URL('file:///tasks.js'), { executor: 'process', maxOldSpaceSizeMb: 64, cwd: '/srv', env: {}, execArgv: [] });
// @ts-expect-error no such executor
createPool(new URL('file:///tasks.js'), { executor: 'fiber' });
// @ts-expect-error maxOldSpaceSizeMb is a number of MB
createPool(new URL('file:///tasks.js'), { executor: 'process', maxOldSpaceSizeMb: '64' });

// A remote pool is typed the same way; its connection is a URL or ioredis options.
const remote = createPool<typeof Basic>(new URL('file:///tasks.js'), { executor: 'remote', connection: 'redis://127.0.0.1:6379', queue: 'basic' });
const remoteSum: Promise<number> = remote.tasks.add(1, 2);
createPool(new URL('file:///tasks.js'), { executor: 'remote', connection: { host: 'redis', port: 6380, password: 'x', tls: {}, db: 2 }, queue: 'q' });
// @ts-expect-error a port alone is not a connection
createPool(new URL('file:///tasks.js'), { executor: 'remote', connection: 6379, queue: 'q' });
const worker: Promise<RemoteWorker> = startRemoteWorker({ taskModule: new URL('file:///tasks.js'), connection: 'redis://x', queue: 'q', size: 2 });
// @ts-expect-error the worker needs a queue
void startRemoteWorker({ taskModule: new URL('file:///tasks.js'), connection: 'redis://x' });

void [remoteSum, worker];
