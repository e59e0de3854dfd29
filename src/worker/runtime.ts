/**
 * The task loop inside a worker, whatever carries its messages (a thread's port, a child
 * process's IPC channel). Loads the task module once, runs tasks one at a time in arrival order,
 * and sends results back batched: every task of one incoming batch that finishes synchronously
 * shares one outgoing message.
 */
import { fileURLToPath } from 'node:url';
import type { TransferListItem } from 'node:worker_threads';
import { UnknownTaskError, NotCloneableError } from '../errors.js';
import { findUncloneablePath } from '../protocol/clone-path.js';
import { encodeError, type EncodedError } from '../protocol/error-codec.js';
import {
  FromWorker,
  METHOD_SEPARATOR,
  Status,
  ToWorker,
  type MainMessage,
  type WorkerInit,
  type WorkerMessage,
} from '../protocol/messages.js';
import { takeMarked } from '../transfer.js';
import { markWorkerContext } from './context.js';

export interface WorkerPort {
  post(message: WorkerMessage, transfer?: TransferListItem[]): void;
  onMessage(handler: (message: MainMessage) => void): void;
}

type Callable = (...args: unknown[]) => unknown;

const RUNTIME_FILE = fileURLToPath(import.meta.url);

/** Encodes a task's error without the task loop's own frames, which only add noise. */
function encodeTaskError(error: unknown): EncodedError {
  const encoded = encodeError(error);
  if (encoded.kind === 'error' && encoded.stack !== undefined) {
    const lines = encoded.stack.split('\n');
    const first = lines.findIndex((line) => line.includes(RUNTIME_FILE));
    if (first > 0) encoded.stack = lines.slice(0, first).join('\n');
  }
  return encoded;
}
interface Resolved {
  fn: Callable;
  self: unknown;
}

export async function runWorker(port: WorkerPort, init: WorkerInit): Promise<void> {
  markWorkerContext(init);
  let taskModule: Record<string, unknown>;
  try {
    taskModule = (await import(init.moduleUrl)) as Record<string, unknown>;
  } catch (error) {
    port.post([FromWorker.LoadFailed, encodeError(error)]);
    return;
  }
  new TaskLoop(port, taskModule).start();
}

class TaskLoop {
  readonly #port: WorkerPort;
  readonly #module: Record<string, unknown>;
  readonly #resolved = new Map<string, Resolved>();
  readonly #instances = new Map<Function, unknown>();
  readonly #inbox: unknown[][] = [];
  #isRunning = false;
  #isCloseRequested = false;

  constructor(port: WorkerPort, taskModule: Record<string, unknown>) {
    this.#port = port;
    this.#module = taskModule;
  }

  start(): void {
    this.#port.onMessage((message) => this.#receive(message));
    this.#port.post([FromWorker.Ready]);
  }

  #receive(message: MainMessage): void {
    if (message[0] === ToWorker.Run) {
      if (this.#isRunning) this.#inbox.push(message);
      else void this.#drain(message);
    } else if (message[0] === ToWorker.Close) {
      this.#isCloseRequested = true;
      if (!this.#isRunning) void this.#close();
    }
  }

  async #drain(first: unknown[]): Promise<void> {
    this.#isRunning = true;
    let batch: unknown[] | undefined = first;
    while (batch !== undefined) {
      const pending = this.#runBatch(batch, 1);
      if (pending !== undefined) await pending;
      batch = this.#inbox.shift();
    }
    this.#isRunning = false;
    if (this.#isCloseRequested) await this.#close();
  }

  /** Runs tasks from `start`; returns a promise only when a task turned out to be async. */
  #runBatch(batch: unknown[], start: number): Promise<void> | undefined {
    const out: unknown[] = [FromWorker.Results, 0];
    const began = performance.now();
    for (let i = start; i < batch.length; i += 3) {
      const id = batch[i];
      let value: unknown;
      try {
        const task = this.#resolve(batch[i + 1] as string);
        value = task.fn.apply(task.self, batch[i + 2] as unknown[]);
      } catch (error) {
        out.push(id, Status.Failed, encodeTaskError(error));
        continue;
      }
      if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function') {
        out[1] = performance.now() - began;
        this.#send(out);
        return this.#finishAsync(batch, i, value as PromiseLike<unknown>);
      }
      out.push(id, Status.Ok, value);
    }
    out[1] = performance.now() - began;
    this.#send(out);
    return undefined;
  }

  async #finishAsync(batch: unknown[], index: number, pending: PromiseLike<unknown>): Promise<void> {
    const began = performance.now();
    let out: unknown[];
    try {
      const value = await pending;
      out = [FromWorker.Results, performance.now() - began, batch[index], Status.Ok, value];
    } catch (error) {
      out = [FromWorker.Results, performance.now() - began, batch[index], Status.Failed, encodeTaskError(error)];
    }
    this.#send(out);
    const rest = this.#runBatch(batch, index + 3);
    if (rest !== undefined) await rest;
  }

  /** Sends a results message; a result that cannot be cloned becomes that task's error. */
  #send(out: unknown[]): void {
    if (out.length === 2) return;
    const transfer = takeMarked(valuesOf(out));
    try {
      this.#port.post(out as WorkerMessage, transfer);
      return;
    } catch (error) {
      if (out.length === 5) {
        // The process executor names the path itself when structured clone would miss it.
        const refusal =
          error instanceof NotCloneableError ? error : new NotCloneableError(findUncloneablePath(out[4], 'result') ?? 'result', error);
        out[3] = Status.Failed;
        out[4] = encodeError(refusal);
        this.#port.post(out as WorkerMessage);
        return;
      }
    }
    // Several results and one of them cannot be cloned: send each on its own to find it.
    for (let i = 2; i < out.length; i += 3) {
      const single = [FromWorker.Results, i === 2 ? out[1] : 0, out[i], out[i + 1], out[i + 2]];
      this.#send(single);
    }
  }

  #resolve(name: string): Resolved {
    const cached = this.#resolved.get(name);
    if (cached !== undefined) return cached;
    const resolved = this.#lookup(name);
    this.#resolved.set(name, resolved);
    return resolved;
  }

  #lookup(name: string): Resolved {
    const separator = typeof name === 'string' ? name.indexOf(METHOD_SEPARATOR) : -1;
    if (separator === -1) {
      const fn = Object.hasOwn(this.#module, name) ? this.#module[name] : undefined;
      if (typeof fn !== 'function' || name === 'teardown') throw new UnknownTaskError(String(name), this.#taskNames());
      return { fn: fn as Callable, self: undefined };
    }
    // `Class#method`: a @blocking method, run on this worker's own instance of the class.
    const className = name.slice(0, separator);
    const methodName = name.slice(separator + 1);
    const cls = this.#findClass(className);
    if (cls === undefined) throw new UnknownTaskError(name, this.#taskNames());
    let instance = this.#instances.get(cls);
    if (instance === undefined) {
      instance = new (cls as new () => unknown)();
      this.#instances.set(cls, instance);
    }
    const method = (instance as Record<string, unknown>)[methodName];
    if (typeof method !== 'function') throw new UnknownTaskError(name, this.#taskNames());
    return { fn: method as Callable, self: instance };
  }

  #findClass(className: string): Function | undefined {
    const byKey = Object.hasOwn(this.#module, className) ? this.#module[className] : undefined;
    if (typeof byKey === 'function') return byKey;
    for (const value of Object.values(this.#module)) {
      if (typeof value === 'function' && value.name === className) return value;
    }
    return undefined;
  }

  #taskNames(): string[] {
    return Object.keys(this.#module).filter((key) => typeof this.#module[key] === 'function' && key !== 'teardown');
  }

  async #close(): Promise<void> {
    const teardown = this.#module.teardown;
    if (typeof teardown === 'function') {
      try {
        await teardown();
      } catch (error) {
        console.error('offload: teardown() failed:', error);
      }
    }
    this.#port.post([FromWorker.Closed]);
  }
}

/** The result values in a results message, where transfer marks may sit. */
function valuesOf(out: unknown[]): unknown[] {
  const values: unknown[] = [];
  for (let i = 4; i < out.length; i += 3) values.push(out[i]);
  return values;
}
