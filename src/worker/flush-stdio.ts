/**
 * Resolves once what task code wrote to this thread's stdout and stderr has left it, or after
 * `limitMs`. A worker thread's stdio is a stream to the main thread that holds each write until
 * the main thread has taken the one before: lines written while the main thread's own stdout was
 * slow, or just before a task returned, may still be here when the pool ends the thread after its
 * `Closed`, and would be lost. Bounded, so that a main thread whose stdout never drains cannot
 * hold the pool's close forever.
 */
export function flushStdio(limitMs: number): Promise<void> {
  const pending = [process.stdout, process.stderr].filter((stream) => stream.writableLength > 0 && !stream.destroyed);
  if (pending.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let left = pending.length;
    const timer = setTimeout(resolve, limitMs);
    const flushed = (): void => {
      if (--left > 0) return;
      clearTimeout(timer);
      resolve();
    };
    // Written in order: an empty write's callback runs once everything before it has gone.
    for (const stream of pending) stream.write('', flushed);
  });
}
