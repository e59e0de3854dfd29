/**
 * Start-up to first result (library import included, as an application pays it), idle memory,
 * then graceful shutdown, on a pool of 2.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { MiB } from '../stats.js';
import { burst } from './load.js';
import { now, type Scenario } from './scenario.js';

const SIZE = 2;

export const lifecycle: Scenario = async ({ loadPool, workerFile }) => {
  const began = now();
  const pool = (await loadPool())(SIZE, workerFile);
  await pool.call('noop');
  const startupMs = now() - began;

  // Enough overlapping slow calls that every library runs both threads before it is measured
  // idle and shut down (offload starts threads on demand, the peers at construction).
  await burst(4 * SIZE, () => pool.call('sleep', 5));
  await burst(100, () => pool.call('noop'));
  await delay(200);
  const idleRssMiB = process.memoryUsage.rss() / MiB;
  const threads = threadCount();

  const closing = now();
  await pool.close();
  return { startupMs, shutdownMs: now() - closing, idleRssMiB, threads };
};

/** Threads of this process (Linux), to confirm every pool really had its workers up. */
function threadCount(): number {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}
