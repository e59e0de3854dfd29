/**
 * A log-scale histogram of durations in milliseconds: O(1) to record, constant memory, and
 * within about 6% of the true value at any percentile (16 sub-buckets per power of two).
 */
const SUB_BUCKETS = 16;
const MIN_MS = 0.001; // 1 µs: anything faster lands in the first bucket
const BUCKETS = 40 * SUB_BUCKETS; // up to 2^40 µs, longer than any task
export class Histogram {
    #counts = new Float64Array(BUCKETS);
    #count = 0;
    #max = 0;
    record(ms) {
        if (!(ms >= 0))
            return;
        const scaled = ms / MIN_MS;
        let index = 0;
        if (scaled >= 1) {
            const exponent = Math.floor(Math.log2(scaled));
            const fraction = scaled / 2 ** exponent - 1;
            index = Math.min(BUCKETS - 1, exponent * SUB_BUCKETS + Math.floor(fraction * SUB_BUCKETS));
        }
        this.#counts[index]++;
        this.#count++;
        if (ms > this.#max)
            this.#max = ms;
    }
    get count() {
        return this.#count;
    }
    /** The upper edge of the bucket holding the `p`th percentile, in milliseconds. */
    percentile(p) {
        if (this.#count === 0)
            return 0;
        const rank = Math.ceil((p / 100) * this.#count);
        let seen = 0;
        for (let index = 0; index < BUCKETS; index++) {
            seen += this.#counts[index];
            if (seen >= rank) {
                const exponent = Math.floor(index / SUB_BUCKETS);
                const upper = 2 ** exponent * (1 + ((index % SUB_BUCKETS) + 1) / SUB_BUCKETS) * MIN_MS;
                return Math.min(upper, this.#max);
            }
        }
        return this.#max;
    }
    summary() {
        return {
            count: this.#count,
            p50: this.percentile(50),
            p90: this.percentile(90),
            p99: this.percentile(99),
            max: this.#max,
        };
    }
}
