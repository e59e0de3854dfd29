// Bare worker_threads, the floor under a local pool: `count` threads running the bench's no-op
// tasks (raw-thread.mjs), each call to an idle one. Callers never have more calls in flight
// than threads (BullMQ never takes more jobs than its concurrency), so one is always idle.
import { Worker } from 'node:worker_threads';

export async function startRawThreads(count) {
  const idle = [];
  const pending = new Map();
  let ids = 0;
  for (let i = 0; i < count; i++) {
    const thread = new Worker(new URL('./raw-thread.mjs', import.meta.url));
    thread.on('message', ([id, value]) => {
      const settle = pending.get(id);
      pending.delete(id);
      idle.push(thread);
      settle(value);
    });
    await new Promise((resolve) => thread.once('online', resolve));
    idle.push(thread);
  }
  return {
    run: (name, args) =>
      new Promise((resolve) => {
        const id = ++ids;
        pending.set(id, resolve);
        idle.pop().postMessage([id, name, args]);
      }),
    close: () => Promise.all(idle.map((thread) => thread.terminate())),
  };
}
