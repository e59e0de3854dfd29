/**
 * What a worker process needs from its parent while its event loop may be blocked by a
 * synchronous task: to learn that the running task was cancelled, and to die with the parent.
 * A thread gets the first from shared memory and the second for free; a process gets both from
 * a control pipe (the child's fd `CONTROL_FD`) read by a small thread of its own, which runs
 * whatever the main thread is doing.
 */
import { SHARE_ENV, Worker } from 'node:worker_threads';
import { CONTROL_FD } from '../protocol/process-channel.js';
import { keepListening } from './kept-listeners.js';

/**
 * The parent's end closes the IPC channel. While the event loop is free (idle, or awaiting in an
 * async task) the worker notices at once and exits.
 */
export function exitOnDisconnect(): void {
  keepListening('disconnect', () => process.exit());
  if (!process.connected) process.exit();
}

// Only dynamic import(), so the code runs as CommonJS or ESM alike. The parent writes the id of a
// cancelled task as a 32-bit integer; the thread records it where `isCancelled()` looks, exactly
// as the thread executor's pool does in shared memory (see src/protocol/cancel-flag.ts). The pipe ends only when the parent's
// process does (it is never closed on purpose), so its end means nobody is left to work for:
// SIGKILL, because a busy event loop would never run a gentler signal's handler.
const CONTROL_THREAD = `
(async () => {
  const { workerData } = await import('node:worker_threads');
  const { Socket } = await import('node:net');
  const flag = new Int32Array(workerData.flag);
  const orphaned = () => process.kill(process.pid, 'SIGKILL');
  const control = new Socket({ fd: workerData.fd, readable: true, writable: false });
  let pending = Buffer.alloc(0);
  control.on('data', (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const whole = pending.length - (pending.length % 4);
    // The ring layout of src/protocol/cancel-flag.ts: a write index, then the last ids.
    for (let at = 0; at < whole; at += 4) {
      const slot = Atomics.add(flag, 0, 1) % (flag.length - 1);
      Atomics.store(flag, 1 + slot, pending.readInt32LE(at));
    }
    pending = pending.subarray(whole);
  });
  control.on('end', orphaned);
  control.on('error', orphaned);
})();
`;

/**
 * Starts the control thread, before the worker runs its first task. It boots on its own, in
 * parallel, and still serves a task that blocks at once: what the parent wrote meanwhile waits
 * in the pipe. It costs about 10 MB per worker process.
 */
export function startControlThread(cancelFlag: Int32Array): void {
  const thread = new Worker(CONTROL_THREAD, {
    eval: true,
    workerData: { flag: cancelFlag.buffer, fd: CONTROL_FD },
    // No inherited flags: a TypeScript loader has nothing to do in this thread.
    execArgv: [],
    // It prints nothing and reads no variable: without piping its stdio to this process's and
    // copying the environment, it starts about 2 ms sooner, which a first task waits for.
    env: SHARE_ENV,
    stdout: true,
    stderr: true,
  });
  thread.on('error', (error) => {
    // Without it a worker still exits on 'disconnect' once its current task ends, and async
    // tasks still see cancellation; synchronous loops no longer do.
    console.error('offload: the worker process control thread failed:', error);
  });
  thread.unref();
}
