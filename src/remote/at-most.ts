/**
 * Resolves when `work` does or after `ms`, whichever comes first: an unresponsive Redis (frozen,
 * or partitioned without a reset) must not hold a pool's `close()` or `destroy()`.
 */
export function atMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([work.then(() => undefined), elapsed]).finally(() => clearTimeout(timer));
}
