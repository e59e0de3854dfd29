/** What `pool.stats()` reports, and the counters behind it. */
import { Histogram } from './histogram.js';
export class StatsRecorder {
    completed = 0;
    failed = 0;
    shed = 0;
    crashes = 0;
    failures = new Map();
    waitTime = new Histogram();
    runTime = new Histogram();
    fail(code) {
        this.failed++;
        this.failures.set(code, (this.failures.get(code) ?? 0) + 1);
    }
    snapshot(workers, busy, queued) {
        const now = performance.now();
        let idle = 0;
        for (const slot of workers)
            if (slot.isReady && slot.inflight.length === 0)
                idle++;
        return {
            size: workers.length,
            busy,
            idle,
            queued,
            completed: this.completed,
            failed: this.failed,
            failures: Object.fromEntries(this.failures),
            shed: this.shed,
            crashes: this.crashes,
            waitTime: this.waitTime.summary(),
            runTime: this.runTime.summary(),
            workers: workers.map((slot) => ({
                id: slot.id,
                tasks: slot.assigned,
                busyTime: slot.busyTime,
                utilization: Math.min(1, slot.busyTime / Math.max(1, now - slot.spawnedAt)),
            })),
        };
    }
}
