/**
 * A worker process must never outlive its pool's process, however that process ends: a parent
 * killed by SIGKILL runs no cleanup, and nothing in Linux tells its children.
 */
import { Worker } from 'node:worker_threads';

/** How often the watchdog thread looks for the parent, in milliseconds. */
const WATCH_MS = 500;

/**
 * The parent's end closes the IPC channel. While the event loop is free (idle, or awaiting in an
 * async task) the worker notices at once and exits.
 */
export function exitOnDisconnect(): void {
  process.on('disconnect', () => process.exit());
  if (!process.connected) process.exit();
}

/**
 * A synchronous task keeps the event loop from noticing anything, possibly for ever; a tiny
 * thread of its own sees the process re-parented and ends it. SIGKILL, because a busy event loop
 * would never run a gentler signal's handler, and nobody is left to report to. The thread boots
 * on its own, so it may start after the worker is ready, off the start-up path, and still watch a
 * task that blocks at once. It costs about 10 MB per worker process.
 */
export function startWatchdog(parentPid: number): void {
  const watchdog = new Worker(
    `setInterval(() => { if (process.ppid !== ${parentPid}) process.kill(process.pid, 'SIGKILL'); }, ${WATCH_MS});`,
    // No inherited flags: a TypeScript loader has nothing to do in this thread.
    { eval: true, execArgv: [] },
  );
  watchdog.on('error', () => {
    // Without the watchdog a worker still exits on 'disconnect' once its current task ends.
  });
  watchdog.unref();
}
