/** A call in flight through the pool, and how a failed one is carried until it is thrown. */
import type { TransferListItem } from 'node:worker_threads';
import type { EncodedError } from '../protocol/error-codec.js';
import { decodeError } from '../protocol/error-codec.js';
import { isRaisedByOffload } from '../errors.js';
import type { CallTrace } from '../tracing/call-trace.js';
import type { TaskStream } from './stream.js';
import type { WorkerSlot } from './worker-slot.js';

export const TaskState = { Queued: 0, Dispatched: 1, Settled: 2 } as const;
type TaskStateValue = (typeof TaskState)[keyof typeof TaskState];

/** How a task ended badly: an error encoded by a worker, or one raised on this side. */
export class Failure {
  constructor(
    readonly encoded: EncodedError | undefined,
    readonly error?: unknown,
  ) {}

  /** The stable code for counting outcomes: an offload error's code, or `task` for the task's own. */
  get code(): string {
    // Only offload's own errors count by code: a task's error that borrows one is the task's.
    if (this.encoded !== undefined) return this.encoded.kind === 'error' && this.encoded.own === true ? ownCode(this.encoded.props?.code) : 'task';
    return isRaisedByOffload(this.error) ? ownCode((this.error as { code?: unknown }).code) : 'task';
  }

  toError(callerStack?: string): unknown {
    if (this.encoded !== undefined) return decodeError(this.encoded, callerStack);
    if (callerStack && this.error instanceof Error) {
      this.error.stack += `\n    at <offload: called from>\n${callerStack}`;
    }
    return this.error;
  }
}

export class Task {
  state: TaskStateValue = TaskState.Queued;
  /** Clears the timeout and the abort listener; set only when the call has either. */
  disarm: (() => void) | undefined = undefined;
  /** The worker it was handed to. */
  slot: WorkerSlot | undefined = undefined;
  /** Set for a generator task: where its items go. */
  stream: TaskStream<unknown> | undefined = undefined;
  onProgress: ((value: unknown) => void) | undefined = undefined;
  /** Key affinity: calls of one key go to one worker, one at a time. */
  key: string | undefined = undefined;
  /** Set when the call carries context to its worker (a span, a request context). */
  trace: CallTrace | undefined = undefined;
  /** Announced as started (`taskStarted`, its wait recorded): a call re-sent after its worker exited is not again. */
  wasStarted = false;

  constructor(
    readonly id: number,
    readonly name: string,
    public args: unknown[],
    public transfer: TransferListItem[] | undefined,
    readonly priority: number,
    readonly enqueuedAt: number,
    public settle: (outcome: unknown) => void,
  ) {}

  /**
   * A worker gave the task back unstarted, with `args` as it received them. A buffer the call
   * moved was detached here and exists only in that copy now, which is what goes next.
   */
  cameBack(args: unknown): void {
    if (this.transfer === undefined || !Array.isArray(args)) return;
    this.args = args;
    this.transfer = undefined;
  }

  /** Settles once; later outcomes (a result after a timeout, say) are dropped. */
  finish(outcome: unknown): boolean {
    if (this.state === TaskState.Settled) return false;
    this.state = TaskState.Settled;
    if (this.disarm !== undefined) this.disarm();
    if (this.trace !== undefined) this.trace.end(outcome);
    this.settle(outcome);
    return true;
  }
}

/** Whether `a` was called before `b` (ids break ties of the clock, and wrap after 2³¹ calls). */
export function calledBefore(a: Task, b: Task): boolean {
  return a.enqueuedAt < b.enqueuedAt || (a.enqueuedAt === b.enqueuedAt && a.id < b.id);
}

function ownCode(code: unknown): string {
  return typeof code === 'string' && code.startsWith('ERR_OFFLOAD_') ? code : 'task';
}
