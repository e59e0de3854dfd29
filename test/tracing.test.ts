/**
 * Tracing with the real OpenTelemetry SDK on both sides: this process registers a provider
 * exporting to memory; the task module registers its own in each worker (tracing fixture).
 */
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, propagation, trace, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { after, beforeEach, describe, test } from 'node:test';
import { createPool, NotCloneableError, TimeoutError } from '../src/index.js';
import type * as Tracing from './fixtures/tracing.js';
import type { ExportedSpan } from './fixtures/remote-worker-otel.js';
import { capabilities, executors, fixture, poolFor, rejection } from './helpers.js';
import { remotePoolOptions, sharedRedis, startWorkerProcess, until } from './remote-harness.js';

const exporter = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
const tracer = trace.getTracer('tracing-test');

/** Runs `fn` under a new span named `name`; resolves with what `fn` returned and the span. */
async function underSpan<T>(name: string, fn: () => Promise<T>): Promise<{ value: T; span: ReadableSpan }> {
  return tracer.startActiveSpan(name, async (span) => {
    try {
      return { value: await fn(), span: span as unknown as ReadableSpan };
    } finally {
      span.end();
    }
  });
}

function offloadSpans(): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === 'offload');
}

const requests = new AsyncLocalStorage<{ requestId: string }>();

for (const executor of executors) {
  describe(`tracing (${executor})`, () => {
    const pool = poolFor<typeof Tracing>('tracing.ts', executor, {
      size: 2,
      name: 'traced',
      captureContext: () => requests.getStore(),
    });
    after(() => pool.close());
    beforeEach(() => exporter.reset());

    test("task code runs inside the caller's trace, under offload's span for the call", async () => {
      const baggage = propagation.createBaggage({ tenant: { value: 'acme' } });
      const { value: seen, span: caller } = await context.with(propagation.setBaggage(context.active(), baggage), () =>
        underSpan('request', () => pool.tasks.observe()),
      );
      const [span] = offloadSpans();
      assert.ok(span, 'offload recorded a span for the call');
      const traceId = caller.spanContext().traceId;
      assert.equal(span.name, 'offload observe');
      assert.equal(span.spanContext().traceId, traceId);
      assert.equal(span.parentSpanContext?.spanId, caller.spanContext().spanId);
      // In the worker, the active span is offload's, before and after an await, and spans the
      // task makes are its children.
      assert.deepEqual(seen.active, { traceId, spanId: span.spanContext().spanId });
      assert.deepEqual(seen.activeAfterAwait, seen.active);
      assert.deepEqual(seen.child, { traceId, parentSpanId: span.spanContext().spanId });
      assert.deepEqual(seen.baggage, { tenant: 'acme' });

      const attributes = span.attributes;
      assert.equal(attributes['offload.task.name'], 'observe');
      assert.equal(attributes['offload.pool.name'], 'traced');
      assert.equal(attributes['offload.executor'], executor);
      assert.equal(typeof attributes['offload.task.id'], 'number');
      assert.equal(typeof attributes['offload.worker.id'], 'number');
      assert.equal(attributes['offload.outcome'], 'ok');
      assert.equal(attributes['offload.error.code'], undefined);
      const wait = attributes['offload.wait_ms'] as number;
      const run = attributes['offload.run_ms'] as number;
      const busy = attributes['offload.busy_ms'] as number;
      assert.ok(wait >= 0 && run > 0 && busy > 0, `wait ${wait}, run ${run}, busy ${busy}`);
      // The span covers the call: queued, then handed over (an event), then run.
      assert.deepEqual(span.events.map((event) => event.name), ['offload.dispatched']);
      assert.equal(span.status.code, SpanStatusCode.UNSET);
    });

    test('a call made with no active span carries no trace, and offload records no span', async () => {
      const seen = await pool.tasks.observe();
      assert.equal(seen.active, undefined);
      assert.equal(seen.activeAfterAwait, undefined);
      assert.equal(seen.request, undefined);
      assert.deepEqual(offloadSpans(), []);
      // The task's own span starts a trace of its own, as without offload.
      assert.equal(seen.child.parentSpanId, undefined);
    });

    test("a synchronous task sees the caller's trace too", async () => {
      const { value, span: caller } = await underSpan('request', () => pool.tasks.observeSync());
      assert.equal(value.traceId, caller.spanContext().traceId);
    });

    test("a failed call: the span's status is error, with the error's code", async () => {
      await underSpan('request', async () => {
        await rejection(pool.tasks.fail('E_BROKEN'));
        await rejection(pool.run('sleep', [300], { timeout: 50 }));
      });
      const byTask = new Map(offloadSpans().map((span) => [span.attributes['offload.task.name'], span]));
      const failed = byTask.get('fail')!;
      assert.equal(failed.status.code, SpanStatusCode.ERROR);
      assert.equal(failed.status.message, 'failed with E_BROKEN');
      assert.equal(failed.attributes['offload.outcome'], 'error');
      assert.equal(failed.attributes['offload.error.code'], 'E_BROKEN');
      assert.equal(failed.events.at(-1)?.name, 'exception');
      const timedOut = byTask.get('sleep')!;
      assert.equal(timedOut.status.code, SpanStatusCode.ERROR);
      assert.equal(timedOut.attributes['offload.error.code'], new TimeoutError(50).code);
    });

    test('progress reports become events of the span', async () => {
      const received: unknown[] = [];
      await underSpan('request', () => pool.run('observe', [true], { onProgress: (value) => received.push(value) }));
      const [span] = offloadSpans();
      assert.deepEqual(received, ['half']);
      assert.equal(span!.attributes['offload.progress.count'], 1);
      assert.deepEqual(span!.events.map((event) => event.name), ['offload.dispatched', 'offload.progress']);
    });

    test("a stream's generator runs in the trace at every item; the span counts the items", async () => {
      const { value: items, span: caller } = await requests.run({ requestId: 'r-stream' }, () =>
        underSpan('request', async () => {
          const all = [];
          for await (const item of pool.stream('observeStream', [3])) all.push(item);
          return all;
        }),
      );
      const traceId = caller.spanContext().traceId;
      assert.deepEqual(items, Array.from({ length: 3 }, () => ({ traceId, request: { requestId: 'r-stream' } })));
      const [span] = offloadSpans();
      assert.equal(span!.attributes['offload.stream'], true);
      assert.equal(span!.attributes['offload.stream.items'], 3);
      assert.equal(span!.attributes['offload.outcome'], 'ok');
    });

    test('captureContext: each call finds its own request context in the worker, across awaits', async () => {
      // Many calls at once travel to the workers in shared messages; each keeps its own.
      const ids = Array.from({ length: capabilities[executor].bulk(40) > 20 ? 40 : 10 }, (_, i) => `r-${i}`);
      const seen = await Promise.all(ids.map((requestId) => requests.run({ requestId }, () => pool.tasks.requestAfterAwait())));
      assert.deepEqual(seen, ids.map((requestId) => ({ requestId })));
      // No span was active: the request context travels alone, and no span is recorded.
      assert.deepEqual(offloadSpans(), []);
      const sync = await requests.run({ requestId: 'r-sync' }, () => pool.tasks.observeSync());
      assert.deepEqual(sync, { traceId: undefined, request: { requestId: 'r-sync' } });
    });
  });
}

describe('captureContext', () => {
  test('must be a function', () => {
    assert.throws(() => createPool(fixture('tracing.ts'), { captureContext: 'request-id' as never }), {
      name: 'TypeError',
      message: 'options.captureContext must be a function (got string)',
    });
  });

  for (const executor of executors) {
    test(`a hook that throws fails that call only; a context that cannot be sent fails it with ERR_OFFLOAD_NOT_CLONEABLE (${executor})`, async () => {
      let mode: 'throw' | 'function' | 'fine' = 'throw';
      const pool = poolFor<typeof Tracing>('tracing.ts', executor, {
        size: 1,
        captureContext: () => {
          if (mode === 'throw') throw new Error('no request here');
          return mode === 'function' ? { requestId: 'x', log: () => {} } : { requestId: 'fine' };
        },
      });
      try {
        assert.equal(((await rejection(pool.tasks.observeSync())) as Error).message, 'no request here');
        // Every call style hears of it: the callback is called (no unhandled rejection), a stream's loop throws.
        const submitted = await new Promise<unknown>((resolve) => pool.submit('observeSync', [], (error) => resolve(error)));
        assert.equal((submitted as Error).message, 'no request here');
        const streamed = await rejection((async () => {
          for await (const item of pool.stream('observeStream', [1])) void item;
        })());
        assert.equal((streamed as Error).message, 'no request here');
        mode = 'function';
        const refused = await rejection(pool.tasks.observeSync());
        assert.ok(refused instanceof NotCloneableError, String(refused));
        assert.equal(refused.path, 'context.log');
        mode = 'fine';
        assert.deepEqual((await pool.tasks.observeSync()).request, { requestId: 'fine' });
        assert.equal(pool.stats().completed, 1);
      } finally {
        await pool.close();
      }
    });
  }
});

test('an SDK that throws when a span ends never keeps a call from settling', async () => {
  const faulty = new BasicTracerProvider({
    spanProcessors: [
      {
        onStart: () => {},
        onEnd: () => {
          throw new Error('exporter down');
        },
        forceFlush: async () => {},
        shutdown: async () => {},
      },
    ],
  });
  const pool = poolFor<typeof Tracing>('tracing.ts', 'thread', { size: 1 });
  trace.disable();
  trace.setGlobalTracerProvider(faulty);
  try {
    const seen = await trace.getTracer('faulty').startActiveSpan('request', async (span) => {
      try {
        return await pool.tasks.observe();
      } finally {
        span.end = () => {}; // the caller's own span is not the point here
      }
    });
    assert.ok(seen.active, 'the task still ran inside the trace');
    assert.equal(await rejection(pool.tasks.fail('E_STILL')).then((error) => (error as { code: string }).code), 'E_STILL');
  } finally {
    trace.disable();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    await pool.close();
  }
});

for (const executor of ['thread', 'process'] as const) {
  test(`an SDK whose spans throw on setAttribute and addEvent neither crashes the process nor loses a call, keyed or not (${executor})`, async () => {
    const faulty = new BasicTracerProvider({
      spanProcessors: [
        {
          onStart: (span) => {
            const broken = (): never => {
              throw new Error('tracer bug');
            };
            Object.assign(span, { setAttribute: broken, addEvent: broken });
          },
          onEnd: () => {},
          forceFlush: async () => {},
          shutdown: async () => {},
        },
      ],
    });
    const pool = poolFor<typeof Tracing>('tracing.ts', executor, { size: 2 });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => void uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    trace.disable();
    trace.setGlobalTracerProvider(faulty);
    try {
      // The throw came from handing tasks to workers: a keyed pass lost the batches after it.
      const outcomes = await trace.getTracer('faulty').startActiveSpan('request', async (span) => {
        try {
          const calls = Array.from({ length: 60 }, (_, index) =>
            pool.run('sleep', [1], index % 3 === 0 ? {} : { key: `k${index % 7}` }).then(
              () => 'ok',
              (error: unknown) => error,
            ),
          );
          calls.push(pool.tasks.observe(true).then(() => 'ok'));
          return await Promise.all(calls);
        } finally {
          span.end();
        }
      });
      assert.deepEqual(
        outcomes.filter((outcome) => outcome !== 'ok'),
        [],
      );
      assert.equal(pool.stats().queued, 0);
      assert.deepEqual(uncaught, []);
    } finally {
      process.off('uncaughtException', onUncaught);
      trace.disable();
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
      await pool.close();
    }
  });
}

describe('a carried context as a worker receives it', () => {
  // A remote job is written by whoever can write to Redis: what it carries is checked, not trusted.
  test('a malformed trace context is ignored and the task runs outside any trace', async () => {
    const { runCarried } = await import('../src/tracing/restore.js');
    const malformed = [
      { traceparent: 'garbage' },
      { traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01' },
      { traceparent: 42 },
      'text',
      null,
    ];
    for (const carried of malformed) {
      assert.equal(runCarried({ trace: carried }, () => trace.getActiveSpan()), undefined, JSON.stringify(carried));
    }
    assert.equal(runCarried(7, () => 'ran'), 'ran');
  });

  test('a valid one becomes the remote parent, with its trace state and baggage', async () => {
    const { runCarried } = await import('../src/tracing/restore.js');
    const carried = {
      trace: {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'vendor=value',
        baggage: [['tenant', 'acme', 'origin=edge'], ['broken']],
      },
    };
    const seen = runCarried(carried, () => ({
      span: trace.getActiveSpan()?.spanContext(),
      baggage: propagation.getActiveBaggage()?.getEntry('tenant'),
      entries: propagation.getActiveBaggage()?.getAllEntries().length,
    }));
    assert.equal(seen.span?.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(seen.span?.spanId, 'b7ad6b7169203331');
    assert.equal(seen.span?.traceFlags, 1);
    assert.equal(seen.span?.isRemote, true);
    assert.equal(seen.span?.traceState?.get('vendor'), 'value');
    assert.equal(seen.baggage?.value, 'acme');
    assert.equal(seen.baggage?.metadata?.toString(), 'origin=edge');
    assert.equal(seen.entries, 1);
  });
});

if (executors.includes('remote')) {
  describe('tracing in a remote worker process that registers an SDK of its own', () => {
    test("the worker records its part of each call, plain or streamed: a span under the caller's offload span, over the task's", async () => {
      const spansFile = join(mkdtempSync(join(tmpdir(), 'offload-spans-')), 'spans.jsonl');
      const { options } = remotePoolOptions(fixture('tracing.ts'), { size: 1, name: 'traced-remote' });
      const worker = startWorkerProcess(fixture('tracing.ts'), sharedRedis().url, options.queue!, {
        size: 1,
        imports: [fixture('remote-worker-otel.ts')],
        env: { OFFLOAD_TEST_SPANS: spansFile },
      });
      const pool = createPool<typeof Tracing>(fixture('tracing.ts'), options);
      const workerSpans = (): ExportedSpan[] =>
        existsSync(spansFile) ? readFileSync(spansFile, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as ExportedSpan) : [];
      try {
        await worker.ready;
        exporter.reset();
        const { value: seen, span: caller } = await underSpan('request', () => pool.tasks.observe());
        const { span: streamCaller } = await underSpan('request', async () => {
          for await (const _ of pool.stream('observeStream', [2]));
        });
        await rejection(underSpan('request', () => pool.tasks.fail('E_REMOTE')));
        const [local, localStream, localFailed] = offloadSpans();
        await until(() => workerSpans().length >= 3);
        const [remote, remoteStream, remoteFailed] = workerSpans();

        const traceId = caller.spanContext().traceId;
        assert.equal(local!.attributes['offload.executor'], 'remote');
        assert.equal(remote!.scope, 'offload');
        assert.equal(remote!.name, 'offload observe');
        assert.equal(remote!.traceId, traceId);
        assert.equal(remote!.parentSpanId, local!.spanContext().spanId, "a child of the caller's offload span");
        assert.equal(remote!.attributes['offload.executor'], 'thread');
        assert.equal(remote!.attributes['offload.pool.name'], `offload-worker:${options.queue}`);
        assert.equal(remote!.attributes['offload.outcome'], 'ok');
        assert.ok((remote!.attributes['offload.busy_ms'] as number) > 0);
        assert.deepEqual(remote!.events, ['offload.dispatched']);
        // The task ran under the worker's span: it is the active one there, and the task's spans are its children.
        assert.deepEqual(seen.active, { traceId, spanId: remote!.spanId });
        assert.equal(seen.child.parentSpanId, remote!.spanId);

        assert.equal(remoteStream!.traceId, streamCaller.spanContext().traceId);
        assert.equal(remoteStream!.parentSpanId, localStream!.spanContext().spanId);
        assert.equal(remoteStream!.attributes['offload.stream.items'], 2);
        assert.equal(remoteFailed!.parentSpanId, localFailed!.spanContext().spanId);
        assert.equal(remoteFailed!.attributes['offload.outcome'], 'error');
        assert.equal(remoteFailed!.attributes['offload.error.code'], 'E_REMOTE');

        // A call made with no active span carries no trace: the worker records nothing for it.
        await pool.tasks.observe();
        assert.equal(workerSpans().length, 3);
      } finally {
        await pool.close();
        await worker.stop();
      }
    });
  });
}
