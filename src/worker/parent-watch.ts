/**
 * A worker process must never outlive its pool's process, however that process ends: a parent
 * killed by SIGKILL runs no cleanup, and nothing in Linux tells its children.
 */
import { Worker } from 'node:worker_threads';

/** How often the watchdog thread looks for the parent, in milliseconds. */
const WATCH_MS = 500;

export function exitWithParent(parentPid: number): void {
  // The parent's end closes the IPC channel. While the event loop is free (idle, or awaiting in
  // an async task) that is noticed at once.
  process.on('disconnect', () => process.exit());
  if (!process.connected) process.exit();
  // A synchronous task keeps the event loop from noticing anything, possibly for ever; a tiny
  // thread of its own sees the process re-parented and ends it. SIGKILL, because a busy event
  // loop would never run a gentler signal's handler, and nobody is left to report to.
  const watchdog = new Worker(
    `setInterval(() => { if (process.ppid !== ${parentPid}) process.kill(process.pid, 'SIGKILL'); }, ${WATCH_MS});`,
    // No inherited flags: the loader has nothing to do in this thread.
    { eval: true, execArgv: [] },
  );
  watchdog.on('error', () => {
    // Without the watchdog a worker still exits on 'disconnect' once its current task ends.
  });
  watchdog.unref();
}
