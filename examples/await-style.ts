/**
 * The seed's `await io_loop.run_in_executor(executor, work)`: await a blocking task while the
 * event loop stays free (the ticker keeps ticking while ten tasks run in parallel).
 *
 *   node --import tsx examples/await-style.ts
 */
import { createPool } from 'offload';
import type * as Tasks from './tasks.js';

const pool = createPool<typeof Tasks>(new URL('./tasks.ts', import.meta.url), { size: 10 });

let ticks = 0;
const ticker = setInterval(() => ticks++, 5);

const results = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.tasks.blockingTask(i)));
console.log(`results: ${results.join(' ')}`);
console.log(`the event loop ticked ${ticks} times meanwhile`);

clearInterval(ticker);
await pool.close();
console.log('Done.');
