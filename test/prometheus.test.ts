import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool, QueueFullError } from 'offload';
import { registerPoolMetrics } from 'offload/prometheus';
import { Registry } from 'prom-client';
import { fixture, rejection } from './helpers.js';
import type { HttpTasks } from './http-servers.js';
import { parseMetrics, valueOf } from './metrics-text.js';

function tasksPool(name: string) {
  return createPool<HttpTasks>(fixture('http-tasks.ts'), { name, size: 1, maxQueue: 1 });
}

async function scrape(registry: Registry) {
  return parseMetrics(await registry.metrics());
}

test('metrics: queue depth, workers, wait and run time, outcomes by code, all following the pool', async () => {
  const registry = new Registry();
  const pool = tasksPool('metrics');
  const metrics = registerPoolMetrics(pool, { registry });
  const labels = { pool: 'metrics' };
  try {
    const first = await scrape(registry);
    assert.equal(first.types.get('offload_queue_depth'), 'gauge');
    assert.equal(first.types.get('offload_workers_busy'), 'gauge');
    assert.equal(first.types.get('offload_task_wait_seconds'), 'histogram');
    assert.equal(first.types.get('offload_task_run_seconds'), 'histogram');
    assert.equal(first.types.get('offload_tasks_total'), 'counter');
    assert.equal(first.types.get('offload_worker_crashes_total'), 'counter');
    assert.equal(first.types.get('offload_event_loop_delay_seconds'), 'histogram');
    assert.equal(valueOf(first.samples, 'offload_queue_depth', labels), 0);
    assert.equal(valueOf(first.samples, 'offload_workers', labels), 0);

    await pool.tasks.echo(1);
    await pool.tasks.echo(2);
    await rejection(pool.tasks.fail('secret'));
    await rejection(pool.tasks.waitForCancel.with({ timeout: 30 })('timed out'));

    // One task running, one waiting, one shed.
    const controller = new AbortController();
    const started = once(pool, 'taskStarted');
    const running = rejection(pool.tasks.waitForCancel.with({ signal: controller.signal })('held'));
    await started;
    const waiting = rejection(pool.tasks.echo.with({ signal: controller.signal })(3));
    assert.ok((await rejection(pool.tasks.echo(4))) instanceof QueueFullError);
    const busy = await scrape(registry);
    assert.equal(valueOf(busy.samples, 'offload_queue_depth', labels), 1);
    assert.equal(valueOf(busy.samples, 'offload_workers_busy', labels), 1);
    assert.equal(valueOf(busy.samples, 'offload_workers', labels), 1);
    controller.abort();
    await Promise.all([running, waiting]);
    await pool.tasks.cancellations(); // in order behind the held task: the worker is free again

    const last = await scrape(registry);
    const outcome = (name: string) => valueOf(last.samples, 'offload_tasks_total', { ...labels, outcome: name });
    assert.equal(outcome('completed'), 3);
    assert.equal(outcome('task_error'), 1);
    assert.equal(outcome('ERR_OFFLOAD_TIMEOUT'), 1);
    assert.equal(outcome('ERR_OFFLOAD_ABORTED'), 2);
    assert.equal(outcome('ERR_OFFLOAD_QUEUE_FULL'), 1);
    // Six tasks reached the worker (the aborted waiting one never did); each ran and settled.
    assert.equal(valueOf(last.samples, 'offload_task_wait_seconds_count', labels), 6);
    assert.equal(valueOf(last.samples, 'offload_task_run_seconds_count', labels), 6);
    assert.equal(valueOf(last.samples, 'offload_task_run_seconds_bucket', { ...labels, le: '+Inf' }), 6);
    assert.equal(valueOf(last.samples, 'offload_queue_depth', labels), 0);
    assert.equal(valueOf(last.samples, 'offload_worker_crashes_total', labels), 0);
    // Counters only grow: a second scrape adds nothing that did not happen.
    const again = await scrape(registry);
    assert.equal(valueOf(again.samples, 'offload_tasks_total', { ...labels, outcome: 'completed' }), 3);
  } finally {
    metrics.unregister();
    await pool.close();
  }
  assert.doesNotMatch(await registry.metrics(), /offload_/, 'unregistering the last pool removes the metrics');
});

test('metrics: a blocked main thread shows in the event-loop delay histogram', async () => {
  const registry = new Registry();
  const pool = tasksPool('event-loop');
  const metrics = registerPoolMetrics(pool, { registry, eventLoopResolution: 10 });
  try {
    await sleep(30);
    const blockedUntil = performance.now() + 100;
    while (performance.now() < blockedUntil); // what an inline report query does to a server
    await sleep(30); // the sampler's timer runs, late
    const { samples } = await scrape(registry);
    const count = valueOf(samples, 'offload_event_loop_delay_seconds_count') ?? 0;
    const underFiftyMs = valueOf(samples, 'offload_event_loop_delay_seconds_bucket', { le: '0.05' }) ?? 0;
    assert.ok(count > 0);
    assert.ok(count - underFiftyMs >= 1, 'the 100 ms block was observed as a delay above 50 ms');
  } finally {
    metrics.unregister();
    await pool.close();
  }
});

test('metrics: pools share a registry, one `pool` label each; a name registered twice is refused', async () => {
  const registry = new Registry();
  const reports = tasksPool('reports');
  const images = tasksPool('images');
  const first = registerPoolMetrics(reports, { registry });
  const second = registerPoolMetrics(images, { registry });
  try {
    assert.throws(() => registerPoolMetrics(tasksPool('reports'), { registry }), RangeError);
    // The name echoed the way offload echoes a caller's text: escaped, and cut.
    const odd = `line\n${'x'.repeat(10_000)}`;
    const oddPools = [tasksPool(odd), tasksPool(odd)];
    const oddMetrics = registerPoolMetrics(oddPools[0]!, { registry });
    try {
      assert.throws(
        () => registerPoolMetrics(oddPools[1]!, { registry }),
        (error: Error) => error instanceof RangeError && !error.message.includes('\n') && error.message.includes('"line\\nxxx') && error.message.length < 300,
      );
    } finally {
      oddMetrics.unregister();
      await Promise.all(oddPools.map((pool) => pool.close()));
    }
    await reports.tasks.echo(1);
    const { samples } = await scrape(registry);
    assert.equal(valueOf(samples, 'offload_tasks_total', { pool: 'reports', outcome: 'completed' }), 1);
    assert.equal(valueOf(samples, 'offload_tasks_total', { pool: 'images', outcome: 'completed' }), 0);
    first.unregister();
    const after = await scrape(registry);
    assert.equal(valueOf(after.samples, 'offload_workers', { pool: 'reports' }), undefined);
    assert.equal(valueOf(after.samples, 'offload_workers', { pool: 'images' }), 0);
  } finally {
    first.unregister();
    second.unregister();
    await Promise.all([reports.close(), images.close()]);
  }
});

test('metrics: tasks each worker holds, and workers replaced by cause', async () => {
  const registry = new Registry();
  const pool = createPool<HttpTasks>(fixture('http-tasks.ts'), { name: 'recycled', size: 1, maxTasksPerWorker: 2 });
  const metrics = registerPoolMetrics(pool, { registry });
  const labels = { pool: 'recycled' };
  try {
    const first = await scrape(registry);
    assert.equal(first.types.get('offload_tasks_running'), 'gauge');
    assert.equal(first.types.get('offload_worker_inflight'), 'gauge');
    assert.equal(first.types.get('offload_workers_replaced_total'), 'counter');
    assert.equal(valueOf(first.samples, 'offload_workers_replaced_total', { ...labels, cause: 'tasks' }), 0);
    assert.equal(valueOf(first.samples, 'offload_workers_replaced_total', { ...labels, cause: 'memory' }), 0);

    const controller = new AbortController();
    const started = once(pool, 'taskStarted');
    const held = rejection(pool.tasks.waitForCancel.with({ signal: controller.signal })('held'));
    await started;
    const busy = await scrape(registry);
    const [worker] = pool.stats().workers;
    assert.ok(worker);
    assert.equal(valueOf(busy.samples, 'offload_tasks_running', labels), 1);
    assert.equal(valueOf(busy.samples, 'offload_worker_inflight', { ...labels, worker: String(worker.id) }), 1);
    controller.abort();
    await held;
    await pool.tasks.echo(1); // the second task of the first worker: it is replaced after it

    const replacedOnce = await scrape(registry);
    assert.equal(valueOf(replacedOnce.samples, 'offload_workers_replaced_total', { ...labels, cause: 'tasks' }), 1);
    await pool.tasks.echo(2);
    const { samples } = await scrape(registry);
    const live = pool.stats().workers.map((slot) => String(slot.id));
    const series = samples.filter((sample) => sample.name === 'offload_worker_inflight').map((sample) => sample.labels.worker);
    assert.deepEqual(series, live, 'only live workers have a series: the replaced one is gone');
    assert.ok(!series.includes(String(worker.id)));
    assert.equal(valueOf(samples, 'offload_tasks_running', labels), 0);
  } finally {
    metrics.unregister();
    await pool.close();
  }
});
