import assert from 'node:assert/strict';
import { getEventListeners, on, once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createPool, type Pool } from 'offload';
import { RequestPool } from 'offload/http';
import { startedMarker } from './fixtures/http-tasks.js';
import type * as Streams from './fixtures/streams.js';
import { fixture } from './helpers.js';
import { emitted, openRequest, servers, type HttpTasks, type Served } from './http-servers.js';

/** The codes of the next `count` failed tasks. */
async function failures(pool: Pool<HttpTasks>, count: number): Promise<string[]> {
  const codes: string[] = [];
  for await (const [{ code }] of on(pool, 'taskFailed')) {
    codes.push(code as string);
    if (codes.length === count) return codes;
  }
  return codes;
}

interface ErrorBody {
  statusCode: number;
  error: string;
  code?: string;
  message: string;
}

for (const [adapter, serve] of Object.entries(servers)) {
  describe(`HTTP adapter: ${adapter}`, () => {
    let pool: Pool<HttpTasks>;
    let served: Served;

    before(async () => {
      // One worker and room for one waiting task: the cancellation record lives in that worker,
      // and a second waiting call is refused. The tasks honour cancellation, so the worker is
      // never ended for overstaying the grace period: on a loaded machine a loop may get no CPU
      // for 500 ms, and a fresh worker would have lost the record.
      pool = createPool<HttpTasks>(fixture('http-tasks.ts'), { name: `http-${adapter}`, size: 1, maxQueue: 1, cancelGracePeriod: 60_000 });
      served = await serve(pool);
    });
    after(async () => {
      await served.close();
      await pool.close();
    });

    async function getJson<T>(path: string): Promise<{ status: number; headers: Headers; body: T; text: string }> {
      const response = await fetch(`${served.base}${path}`);
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: JSON.parse(text) as T, text };
    }

    /**
     * The task `tag` has begun in the worker, not only been sent to it: a task cancelled before it
     * begins is skipped, unrun, and records no cancellation.
     */
    async function begun(tag: string): Promise<void> {
      const marker = startedMarker(tag);
      for (let waits = 0; !existsSync(marker); waits++) {
        assert.ok(waits < 2000, `the task ${tag} began`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }

    /** Resolves once the pool has nothing running or waiting. */
    async function idle(): Promise<void> {
      for (let waits = 0; pool.stats().busy > 0 || pool.stats().queued > 0; waits++) {
        assert.ok(waits < 2000, 'the pool went idle');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }

    /** Every earlier task has left the worker: the pool of one runs calls in order. */
    async function cancellations(): Promise<string[]> {
      const { status, body } = await getJson<{ value: string[] }>('/cancellations');
      assert.equal(status, 200);
      return body.value;
    }

    test('a task result comes back as the answer', async () => {
      const { status, body } = await getJson<{ value: string }>('/echo?value=hi');
      assert.equal(status, 200);
      assert.deepEqual(body, { value: 'hi' });
    });

    test('bad input a task rejects with statusCode 400 is a 400 with its message', async () => {
      const { status, body } = await getJson<ErrorBody>('/bad-input');
      assert.equal(status, 400);
      assert.deepEqual(body, { statusCode: 400, error: 'Bad Request', code: 'BAD_WIDTH', message: 'width must be at most 4096' });
    });

    test('an argument that cannot reach a worker is a 400 (ERR_OFFLOAD_NOT_CLONEABLE)', async () => {
      const { status, body, text } = await getJson<ErrorBody>('/not-cloneable');
      assert.equal(status, 400);
      assert.equal(body.code, 'ERR_OFFLOAD_NOT_CLONEABLE');
      assert.match(body.message, /args\[0\]/);
      // The path only: never V8's description of the value, which for a function is its source.
      assert.doesNotMatch(text, /a function cannot cross|=>/);
    });

    /** The route answers a bare 500 whose text holds nothing `secrets` matches. */
    async function assertBare500(path: string, secrets: RegExp): Promise<void> {
      const { status, body, text } = await getJson<ErrorBody>(path);
      assert.equal(status, 500, path);
      assert.deepEqual(body, { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' });
      assert.doesNotMatch(text, secrets);
    }

    test('a result that cannot be sent back is a bare 500, without V8\'s description of it', async () => {
      await assertBare500('/unsendable', /SECRET_SOURCE_TEXT|privateSource|result/);
    });

    test('a task error that borrows an ERR_OFFLOAD_* code is the task\'s own: a bare 500', async () => {
      for (const code of ['ERR_OFFLOAD_NOT_CLONEABLE', 'ERR_OFFLOAD_QUEUE_FULL', 'ERR_OFFLOAD_TIMEOUT']) {
        await assertBare500(`/borrowed-code?code=${code}`, /SECRET_TASK_MESSAGE/);
      }
    });

    test('a deadline that passes is a 504 (ERR_OFFLOAD_TIMEOUT)', async () => {
      const { status, body } = await getJson<ErrorBody>('/timeout');
      assert.equal(status, 504);
      assert.equal(body.code, 'ERR_OFFLOAD_TIMEOUT');
      assert.ok((await cancellations()).includes('timeout'), 'the timed-out task was told to stop');
    });

    test('any other failure is a bare 500: no message, no stack', async () => {
      await assertBare500('/fail', /hunter2|password|at /);
    });

    test('a full queue is a 503 (ERR_OFFLOAD_QUEUE_FULL) with Retry-After in whole seconds', async () => {
      const running = openRequest(`${served.base}/wait?tag=full-running`);
      await begun('full-running');
      const queued = emitted(served.calls, 'called', 'full-queued');
      const waiting = openRequest(`${served.base}/wait?tag=full-queued`);
      await queued;
      try {
        const { status, headers, body } = await getJson<ErrorBody>('/echo?value=one-too-many');
        assert.equal(status, 503);
        assert.equal(body.code, 'ERR_OFFLOAD_QUEUE_FULL');
        assert.match(headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      } finally {
        const aborted = failures(pool, 2);
        running.drop();
        waiting.drop();
        assert.deepEqual(await aborted, ['ERR_OFFLOAD_ABORTED', 'ERR_OFFLOAD_ABORTED']);
      }
      assert.ok((await cancellations()).includes('full-running'));
    });

    test('a task that throws what is not an Error is answered as by every adapter: its 4xx with only its message, else a bare 500', async () => {
      const bad = await getJson<ErrorBody>('/throw-value?kind=obj400');
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, { statusCode: 400, error: 'Bad Request', message: 'bad input' });
      const circular = await getJson<ErrorBody>('/throw-value?kind=circular422');
      assert.equal(circular.status, 422);
      assert.deepEqual(circular.body, { statusCode: 422, error: 'Unprocessable Entity', message: 'circular' });
      await assertBare500('/throw-value?kind=null', /Cannot read|null/);
    });

    test('bad call options through the request are refused as the pool refuses them: a rejection, a later callback', async () => {
      const { status, body } = await getJson<Record<string, string>>('/refusals');
      assert.equal(status, 200);
      for (const label of ['null', 'number', 'proxy signal', 'string signal']) {
        assert.equal(body[`run, ${label}`], 'rejected with TypeError', label);
        assert.equal(body[`submit, ${label}`], 'called back with TypeError', label);
      }
    });

    test("a call with a signal of its own is still cancelled when the client disconnects", async () => {
      await idle();
      const request = openRequest(`${served.base}/wait-own-signal?tag=own-signal`);
      await begun('own-signal');
      request.drop();
      assert.ok((await cancellations()).includes('own-signal'));
    });

    test('a stream with a signal of its own, first read after the client left, is cancelled before its generator runs', async () => {
      await idle();
      const request = openRequest(`${served.base}/late-stream-own-signal?tag=late-stream`);
      await emitted(served.calls, 'called', 'late-stream');
      const outcome = once(served.calls, 'streamed');
      request.drop();
      assert.deepEqual(await outcome, ['late-stream: ERR_OFFLOAD_ABORTED after 0 items']);
      const { body } = await getJson<{ value: string[] }>('/streams-begun');
      assert.ok(!body.value.includes('late-stream'), 'the generator never began');
    });

    test("calls with signals of their own share one listener on the request's signal, and leave nothing of theirs once settled", async () => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error): void => void warnings.push(warning);
      process.on('warning', onWarning);
      try {
        const { status, body } = await getJson<{ listeners: number }>('/calls-with-own-signals');
        assert.equal(status, 200);
        // One listener hears the request for all its calls; none of theirs is kept once settled.
        assert.equal(body.listeners, 1);
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning'), []);
      } finally {
        process.off('warning', onWarning);
      }
    });

    test('pipelined requests on a connection that drops are all cancelled: none runs on', async () => {
      await idle();
      const { port } = new URL(served.base);
      const connection = connect(Number(port), '127.0.0.1');
      connection.on('error', () => {}); // dropping it is the point
      const queued = emitted(served.calls, 'called', 'piped-second');
      // Both sent at once: the second request's answer waits behind the first one's, with no socket of its own.
      connection.write('GET /wait?tag=piped-first HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /wait?tag=piped-second HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await begun('piped-first');
      await queued;
      const aborted = failures(pool, 2);
      connection.destroy();
      assert.deepEqual(await aborted, ['ERR_OFFLOAD_ABORTED', 'ERR_OFFLOAD_ABORTED']);
      // The second was handed ahead to the worker: it holds its place until the worker skips it.
      // Each request hears the drop through a listener of its own, so the worker may claim the
      // second as the first ends, just before its cancellation comes: it then starts and stops at
      // once. Either way the worker is free (a task that ran on would hold it for 30 s).
      await idle();
      assert.ok((await cancellations()).includes('piped-first'));
    });

    test('a client that disconnects before the answer cancels its running task, as the worker records', async () => {
      // From an idle pool, so the task goes straight to the worker: a task handed ahead to a busy
      // one (left over from the test before) would be taken back unstarted, and record nothing.
      await idle();
      const request = openRequest(`${served.base}/wait?tag=left`);
      await begun('left');
      request.drop();
      // Runs in the same worker, after the cancelled task returned: the record is the worker's own.
      assert.ok((await cancellations()).includes('left'));
    });
  });
}

test("a request's calls with signals of their own, many at once, share one listener on the request's signal: no warning", async () => {
  const pool = createPool<HttpTasks>(fixture('http-tasks.ts'), { size: 2 });
  const request = new AbortController();
  const offload = new RequestPool(pool, () => request.signal);
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning);
  process.on('warning', onWarning);
  try {
    const own = new AbortController().signal;
    const calls = Array.from({ length: 40 }, (_, i) => offload.tasks.echo.with({ signal: own })(i));
    assert.equal(getEventListeners(request.signal, 'abort').length, 1);
    assert.deepEqual(await Promise.all(calls), Array.from({ length: 40 }, (_, i) => i));
    // And the one listener still reaches every call in flight.
    const running = Array.from({ length: 12 }, () => offload.tasks.waitForCancel.with({ signal: own })('many'));
    request.abort(new DOMException('gone', 'AbortError'));
    for (const outcome of await Promise.allSettled(running)) {
      assert.equal(outcome.status, 'rejected');
      assert.equal((outcome.reason as { code?: string }).code, 'ERR_OFFLOAD_ABORTED');
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning'), []);
  } finally {
    process.off('warning', onWarning);
    await pool.close();
  }
});

test('streams made through a request, first read in one tick after it ended, are refused before any worker sees them', async () => {
  const pool = createPool<typeof Streams>(fixture('streams.ts'), { size: 2 });
  const scratch = mkdtempSync(join(tmpdir(), 'offload-late-streams-'));
  try {
    await pool.warmup();
    const request = new AbortController();
    const offload = new RequestPool(pool, () => request.signal);
    const own = new AbortController().signal;
    const counters = [join(scratch, 'first'), join(scratch, 'second')];
    const streams = counters.map((counter) => offload.stream('tracked', [300, counter], { signal: own }));
    request.abort(new DOMException('gone', 'AbortError'));
    const read = async (items: AsyncIterable<number>): Promise<string> => {
      let count = 0;
      try {
        for await (const _ of items) count++;
        return `all ${count} items`;
      } catch (error) {
        return `${(error as { code?: string }).code} after ${count} items`;
      }
    };
    // The first read has the pool dispatch at the end of the tick; other work runs before the
    // second read's turn. Neither stream may reach a worker.
    const first = read(streams[0]!);
    void Promise.resolve().then(() => {
      for (const end = performance.now() + 50; performance.now() < end; );
    });
    assert.deepEqual(await Promise.all([first, read(streams[1]!)]), ['ERR_OFFLOAD_ABORTED after 0 items', 'ERR_OFFLOAD_ABORTED after 0 items']);
    assert.equal(await pool.run('plain', [], { timeout: 10_000 }), 1, 'both workers are free');
    const produced = counters.map((counter) => (existsSync(counter) ? readFileSync(counter, 'utf8') : ''));
    assert.deepEqual(produced, ['', ''], 'no generator produced an item');
  } finally {
    await pool.close();
    rmSync(scratch, { recursive: true, force: true });
  }
});
