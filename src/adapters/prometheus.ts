/**
 * `offload/prometheus`: registers a pool's metrics with `prom-client`.
 *
 * Gauges and counters are read from `pool.stats()` when the registry is scraped, so they cost
 * nothing between scrapes and never drift from what `stats()` says. Wait and run times are
 * Prometheus histograms, fed one observation per task from the pool's events. Several pools may
 * share a registry: each series carries a `pool` label (the pool's `name` option).
 */
import { Counter, Gauge, Histogram, register as defaultRegistry, type Registry } from 'prom-client';
import { Pool, type PoolEvents } from '../pool/pool.js';
import { sampleEventLoopDelay } from './event-loop-delay.js';
import { quoted, shown } from '../quoted.js';

export interface PoolMetricsOptions {
  /** Where to register. Default: prom-client's global registry. */
  registry?: Registry;
  /** Prepended to every metric name. Default `'offload_'`. */
  prefix?: string;
  /** Milliseconds between event-loop delay samples. Default `20`. */
  eventLoopResolution?: number;
}

export interface PoolMetrics {
  /** Stops observing the pool and removes its series; the metrics go once no pool is left. */
  unregister(): void;
}

/** Seconds: from sub-millisecond hand-offs to tasks that time out. */
const TASK_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds: a healthy loop stays under a few ms; a blocked one shows in the upper buckets. */
const EVENT_LOOP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One pool being observed. */
interface Source {
  pool: Pool<object>;
  /** Counter values already reported, by series, so a scrape adds only what is new. */
  reported: Map<string, number>;
  stop(): void;
}

/** The metrics of one registry and prefix, shared by every pool registered there. */
class PoolCollector {
  readonly sources = new Map<string, Source>();
  readonly queueDepth: Gauge<'pool'>;
  readonly workers: Gauge<'pool'>;
  readonly busyWorkers: Gauge<'pool'>;
  readonly running: Gauge<'pool'>;
  readonly workerInflight: Gauge<'pool' | 'worker'>;
  readonly waitTime: Histogram<'pool'>;
  readonly runTime: Histogram<'pool'>;
  readonly tasks: Counter<'pool' | 'outcome'>;
  readonly crashes: Counter<'pool'>;
  readonly replaced: Counter<'pool' | 'cause'>;
  readonly eventLoopDelay: Histogram;
  readonly #stopSampling: () => void;
  readonly #registry: Registry;
  readonly #names: string[] = [];

  constructor(registry: Registry, prefix: string, resolution: number) {
    this.#registry = registry;
    const named = (name: string): string => {
      this.#names.push(prefix + name);
      return prefix + name;
    };
    const registers = [registry];
    const sources = this.sources;
    const each = (read: (source: Source) => void): void => {
      for (const source of sources.values()) read(source);
    };
    this.queueDepth = new Gauge({
      name: named('queue_depth'),
      help: 'Tasks waiting for a worker',
      labelNames: ['pool'],
      registers,
      collect() {
        each((source) => this.set({ pool: source.pool.options.name }, source.pool.stats().queued));
      },
    });
    this.workers = new Gauge({
      name: named('workers'),
      help: 'Workers alive',
      labelNames: ['pool'],
      registers,
      collect() {
        each((source) => this.set({ pool: source.pool.options.name }, source.pool.stats().size));
      },
    });
    this.busyWorkers = new Gauge({
      name: named('workers_busy'),
      help: 'Workers running a task',
      labelNames: ['pool'],
      registers,
      collect() {
        each((source) => this.set({ pool: source.pool.options.name }, source.pool.stats().busy));
      },
    });
    this.running = new Gauge({
      name: named('tasks_running'),
      help: 'Tasks held by workers: running, or sent ahead to a busy worker',
      labelNames: ['pool'],
      registers,
      collect() {
        each((source) => {
          let inflight = 0;
          for (const worker of source.pool.stats().workers) inflight += worker.inflight;
          this.set({ pool: source.pool.options.name }, inflight);
        });
      },
    });
    this.workerInflight = new Gauge({
      name: named('worker_inflight'),
      help: 'Tasks each live worker holds (up to concurrentTasksPerWorker run at once)',
      labelNames: ['pool', 'worker'],
      registers,
      collect() {
        // Workers come and go: start from nothing so a replaced worker's series disappears.
        this.reset();
        each((source) => {
          for (const worker of source.pool.stats().workers) {
            this.set({ pool: source.pool.options.name, worker: String(worker.id) }, worker.inflight);
          }
        });
      },
    });
    this.waitTime = new Histogram({
      name: named('task_wait_seconds'),
      help: 'Time from admission until a worker took the task',
      labelNames: ['pool'],
      buckets: TASK_BUCKETS,
      registers,
    });
    this.runTime = new Histogram({
      name: named('task_run_seconds'),
      help: 'Time a task ran in a worker (until it settled, for a task that failed or was cancelled)',
      labelNames: ['pool'],
      buckets: TASK_BUCKETS,
      registers,
    });
    this.tasks = new Counter({
      name: named('tasks_total'),
      help: 'Calls by outcome: completed, task_error (the task threw), or the ERR_OFFLOAD_* code (ERR_OFFLOAD_QUEUE_FULL counts calls shed at admission)',
      labelNames: ['pool', 'outcome'],
      registers,
      collect() {
        each((source) => {
          const stats = source.pool.stats();
          const outcomes: Array<[string, number]> = [['completed', stats.completed], ['ERR_OFFLOAD_QUEUE_FULL', stats.shed]];
          for (const [code, count] of Object.entries(stats.failures)) outcomes.push([code === 'task' ? 'task_error' : code, count]);
          for (const [outcome, count] of outcomes) addNew(this, source, `tasks:${outcome}`, { pool: source.pool.options.name, outcome }, count);
        });
      },
    });
    this.crashes = new Counter({
      name: named('worker_crashes_total'),
      help: 'Workers that exited unexpectedly',
      labelNames: ['pool'],
      registers,
      collect() {
        each((source) => addNew(this, source, 'crashes', { pool: source.pool.options.name }, source.pool.stats().crashes));
      },
    });
    this.replaced = new Counter({
      name: named('workers_replaced_total'),
      help: 'Workers replaced on purpose, by cause: tasks (maxTasksPerWorker reached) or memory (maxWorkerMemoryMb exceeded)',
      labelNames: ['pool', 'cause'],
      registers,
      collect() {
        each((source) => {
          const { replaced } = source.pool.stats();
          for (const cause of ['tasks', 'memory'] as const) {
            addNew(this, source, `replaced:${cause}`, { pool: source.pool.options.name, cause }, replaced[cause]);
          }
        });
      },
    });
    this.eventLoopDelay = new Histogram({
      name: named('event_loop_delay_seconds'),
      help: `How late a timer due every ${resolution} ms ran on the main thread: what blocking work costs every other request`,
      buckets: EVENT_LOOP_BUCKETS,
      registers,
    });
    this.#stopSampling = sampleEventLoopDelay(resolution, (ms) => this.eventLoopDelay.observe(ms / 1000));
  }

  add(pool: Pool<object>): Source {
    const name = pool.options.name;
    const labels = { pool: name };
    // Dispatch-to-settle times of running tasks, for the failures (events give only successes a run time).
    const started = new Map<number, number>();
    const onStarted = ({ id, waitTime }: PoolEvents['taskStarted'][0]): void => {
      this.waitTime.observe(labels, waitTime / 1000);
      started.set(id, performance.now());
    };
    const onFinished = ({ id, runTime }: PoolEvents['taskFinished'][0]): void => {
      started.delete(id);
      this.runTime.observe(labels, runTime / 1000);
    };
    const onFailed = ({ id }: PoolEvents['taskFailed'][0]): void => {
      const start = started.get(id);
      if (start === undefined) return; // failed before reaching a worker: no run time
      started.delete(id);
      this.runTime.observe(labels, (performance.now() - start) / 1000);
    };
    pool.on('taskStarted', onStarted);
    pool.on('taskFinished', onFinished);
    pool.on('taskFailed', onFailed);
    const source: Source = {
      pool,
      reported: new Map(),
      stop: () => {
        pool.off('taskStarted', onStarted);
        pool.off('taskFinished', onFinished);
        pool.off('taskFailed', onFailed);
      },
    };
    this.sources.set(name, source);
    return source;
  }

  remove(source: Source): void {
    source.stop();
    const name = source.pool.options.name;
    this.sources.delete(name);
    for (const gauge of [this.queueDepth, this.workers, this.busyWorkers, this.running]) gauge.remove({ pool: name });
    for (const histogram of [this.waitTime, this.runTime]) histogram.remove({ pool: name });
    this.crashes.remove({ pool: name });
    for (const series of source.reported.keys()) {
      if (series.startsWith('tasks:')) this.tasks.remove({ pool: name, outcome: series.slice('tasks:'.length) });
    }
    for (const cause of ['tasks', 'memory']) this.replaced.remove({ pool: name, cause });
  }

  dispose(): void {
    this.#stopSampling();
    for (const name of this.#names) this.#registry.removeSingleMetric(name);
  }
}

/** Counters from `stats()` totals: add what grew since the last scrape. */
function addNew<T extends string>(counter: Counter<T>, source: Source, series: string, labels: Partial<Record<T, string>>, total: number): void {
  const reported = source.reported.get(series);
  // A series shows from its first scrape, at 0, so rate() and increase() have a starting point.
  if (reported === undefined || total > reported) counter.inc(labels, total - (reported ?? 0));
  source.reported.set(series, total);
}

const collectors = new WeakMap<Registry, Map<string, PoolCollector>>();

/** Registers the pool's metrics: `registerPoolMetrics(pool)`, then serve `register.metrics()`. */
export function registerPoolMetrics(pool: Pool<object>, options: PoolMetricsOptions = {}): PoolMetrics {
  if (!(pool instanceof Pool)) throw new TypeError('offload/prometheus: registerPoolMetrics(pool) needs a pool from createPool()');
  const registry = options.registry ?? defaultRegistry;
  const prefix = options.prefix ?? 'offload_';
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(prefix)) {
    throw new TypeError(`options.prefix must be a valid metric name prefix (got ${shown(prefix)})`);
  }
  const resolution = options.eventLoopResolution ?? 20;
  if (!(Number.isInteger(resolution) && resolution >= 1)) {
    throw new RangeError(`options.eventLoopResolution must be a whole number of ms, at least 1 (got ${shown(resolution)})`);
  }
  let byPrefix = collectors.get(registry);
  if (byPrefix === undefined) collectors.set(registry, (byPrefix = new Map()));
  let collector = byPrefix.get(prefix);
  if (collector?.sources.has(pool.options.name)) {
    throw new RangeError(`offload/prometheus: a pool named ${quoted(pool.options.name)} is already registered here; give each pool its own \`name\``);
  }
  collector ??= new PoolCollector(registry, prefix, resolution);
  byPrefix.set(prefix, collector);
  const source = collector.add(pool);
  let isRegistered = true;
  return {
    unregister() {
      if (!isRegistered) return;
      isRegistered = false;
      collector.remove(source);
      if (collector.sources.size === 0) {
        collector.dispose();
        byPrefix.delete(prefix);
      }
    },
  };
}
