import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, describe, test } from 'node:test';
import { threadId } from 'node:worker_threads';
import { blocking } from '../src/index.js';
import { executors } from './helpers.js';

for (const executor of executors) {
  describe(`@blocking (${executor})`, async () => {
    const { ReportService, ChildService, ExtendedService, servicePool } = await import(`./fixtures/service.ts?executor=${executor}`);
    after(() => servicePool.close());

    test('the method body runs in a worker, on a per-worker instance, without shipping the caller', async () => {
      const service = new ReportService();
      const first = await service.describe('a');
      assert.equal(first.label, 'a');
      assert.equal(first.inWorker, true);
      assert.notDeepEqual([first.pid, first.thread], [process.pid, threadId]);
      assert.equal(first.pid !== process.pid, executor !== 'thread'); // processes, here or remote
      // The caller's own instance was never touched or serialised.
      assert.equal(service.calls, 0);
      assert.equal(typeof service.connection.query, 'function');
      // Later calls from other caller instances reach the same per-worker instance.
      const again = await new ReportService().describe('b');
      if (again.worker === first.worker) {
        assert.equal(again.instance, first.instance);
        assert.equal(again.calls, first.calls + 1);
      }
    });

    test('decorated calls run in parallel: their windows overlap', async () => {
      await servicePool.warmup();
      const service = new ReportService();
      const [a, b] = await Promise.all([service.window(200), service.window(200)]);
      assert.ok(a.start < b.end && b.start < a.end, JSON.stringify([a, b]));
    });

    test('errors thrown by the method come back with their class', async () => {
      await assert.rejects(new ReportService().fail('no such report'), (error: unknown) => {
        assert.ok(error instanceof RangeError);
        assert.equal(error.message, 'no such report');
        return true;
      });
    });

    test('a method called without its instance is refused with a TypeError that says how to bind it; the pool is untouched', async () => {
      const { describe: detached } = new ReportService();
      const before = servicePool.stats().completed + servicePool.stats().failed;
      // What a detached method gets as `this`: nothing, or whatever calls it (an emitter, a timer).
      for (const self of [undefined, null, Object.create(null), {}, 'text', new EventEmitter(), setTimeout(() => {}, 0)]) {
        await assert.rejects(Reflect.apply(detached, self, ['x']), {
          name: 'TypeError',
          message: /@blocking method "describe" was called without an instance of its class .*instance\.describe\.bind\(instance\)/,
        });
      }
      // An instance, but of a class no worker can find by name.
      const Anonymous = (() => class extends ReportService {})();
      await assert.rejects(new Anonymous().describe('x'), { name: 'TypeError', message: /anonymous class/ });
      assert.equal(servicePool.stats().completed + servicePool.stats().failed, before, 'nothing reached the pool');
      assert.equal((await detached.call(new ReportService(), 'bound')).label, 'bound');
    });

    test('a subclass instance runs the inherited method on a worker instance of the subclass', async () => {
      const result = await new ChildService().describe('child');
      assert.equal(result.inWorker, true);
      assert.equal(result.className, 'ChildService');
    });

    test("a subclass's override that calls super runs the decorated method on a worker instance of the class declaring it", async () => {
      const result = await new ExtendedService().describe('child');
      assert.equal(result.label, 'extended child');
      assert.equal(result.inWorker, true);
      assert.equal(result.className, 'ReportService');
    });

    test("the class is read from the instance's prototype, not from a constructor property of its own", async () => {
      const service = new ReportService();
      Object.defineProperty(service, 'constructor', { value: ChildService });
      assert.equal((await service.describe('own property')).className, 'ReportService');
    });
  });
}

test('@blocking refuses misuse at class definition', () => {
  assert.throws(() => blocking(undefined as never), TypeError);
  assert.throws(() => {
    class Bad {
      // @ts-expect-error static methods cannot be @blocking
      @blocking({ pool: () => undefined as never })
      static async method(): Promise<void> {}
    }
    return Bad;
  }, TypeError);
});
