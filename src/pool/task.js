import { decodeError } from '../protocol/error-codec.js';
export const TaskState = { Queued: 0, Dispatched: 1, Settled: 2 };
/** How a task ended badly: an error encoded by a worker, or one raised on this side. */
export class Failure {
    encoded;
    error;
    constructor(encoded, error) {
        this.encoded = encoded;
        this.error = error;
    }
    /** The stable code for counting outcomes: an offload error's code, or `task` for the task's own. */
    get code() {
        if (this.encoded !== undefined)
            return 'task';
        const code = this.error?.code;
        return typeof code === 'string' && code.startsWith('ERR_OFFLOAD_') ? code : 'task';
    }
    toError(callerStack) {
        if (this.encoded !== undefined)
            return decodeError(this.encoded, callerStack);
        if (callerStack && this.error instanceof Error) {
            this.error.stack += `\n    at <offload: called from>\n${callerStack}`;
        }
        return this.error;
    }
}
export class Task {
    id;
    name;
    args;
    transfer;
    priority;
    enqueuedAt;
    settle;
    state = TaskState.Queued;
    /** Clears the timeout and the abort listener; set only when the call has either. */
    disarm = undefined;
    /** The worker it was handed to. */
    slot = undefined;
    /** Set for a generator task: where its items go. */
    stream = undefined;
    onProgress = undefined;
    constructor(id, name, args, transfer, priority, enqueuedAt, settle) {
        this.id = id;
        this.name = name;
        this.args = args;
        this.transfer = transfer;
        this.priority = priority;
        this.enqueuedAt = enqueuedAt;
        this.settle = settle;
    }
    /** Settles once; later outcomes (a result after a timeout, say) are dropped. */
    finish(outcome) {
        if (this.state === TaskState.Settled)
            return false;
        this.state = TaskState.Settled;
        if (this.disarm !== undefined)
            this.disarm();
        this.settle(outcome);
        return true;
    }
}
