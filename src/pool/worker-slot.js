import { Queue } from './queue.js';
export class WorkerSlot {
    id;
    cancelFlag;
    handle;
    isReady = false;
    /** Closing or ended on purpose: its exit is expected, and it takes no new task. */
    isRetiring = false;
    /** Tasks sent and not yet answered, in the order the worker runs them. */
    inflight = new Queue();
    /** Tasks ever sent, for `maxTasksPerWorker`. */
    assigned = 0;
    /** Milliseconds spent running tasks, as the worker measured them. */
    busyTime = 0;
    spawnedAt = performance.now();
    idleSince = performance.now();
    /** Running a generator task: it holds the worker until the stream ends. */
    isStreaming = false;
    /** Pending end of a worker whose cancelled task overstays the grace period. */
    killTimer;
    constructor(id, cancelFlag) {
        this.id = id;
        this.cancelFlag = cancelFlag;
    }
    /** Whether it may take tasks now, holding at most `depth` in flight. */
    canTake(depth, idleOnly, maxTasks) {
        const load = this.inflight.length;
        return (this.isReady &&
            !this.isRetiring &&
            !this.isStreaming &&
            this.assigned < maxTasks &&
            (idleOnly ? load === 0 : load < depth));
    }
}
