/**
 * `niceIncrement`: a worker lowers the scheduling priority of the thread that runs its tasks, so
 * that when busy workers outnumber the cores the kernel gives the main thread (the one answering
 * every request) a core first. Linux only: there `setpriority()` given a thread id affects that
 * thread alone, which is what lets a worker *thread* be niced without the rest of its process.
 */
// Through `builtins`: a worker loads `fs` and `os` only when it has a priority to lower.
import { fs, os } from '../builtins.js';

/** Most a process may be niced on Linux. */
const LOWEST_PRIORITY = 19;

/** Returns whether the priority was lowered (false off Linux, or where /proc is missing). */
export function lowerOwnPriority(increment: number): boolean {
  if (increment <= 0 || process.platform !== 'linux') return false;
  let threadId: number;
  try {
    // "<pid>/task/<tid>"
    threadId = Number(fs().readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return false; // no /proc: run at the normal priority
  }
  // Lowering one's own priority needs no privilege, so unlike raising it this does not fail.
  os().setPriority(threadId, Math.min(LOWEST_PRIORITY, os().getPriority(threadId) + increment));
  return true;
}
