/**
 * Lowers the priority of the calling thread (Linux), for worker threads doing CPU-heavy work:
 * when there are more busy workers than cores, the kernel then gives the main thread — the one
 * answering every request — the CPU first. Elsewhere it does nothing.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

export function lowerThreadPriority(niceness = 10): boolean {
  if (process.platform !== 'linux') return false;
  try {
    // "<pid>/task/<tid>": on Linux, setpriority() given a thread id affects that thread alone.
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(threadId, niceness);
    return true;
  } catch {
    return false; // no /proc, or not permitted: run at the normal priority
  }
}
