/**
 * The demo's task module. Each worker opens its own read-only connection once, at load:
 * per-worker resources live at the top level of a task module.
 */
import { appendFileSync } from 'node:fs';
import Database from 'better-sqlite3';

// With OFFLOAD_TRACE=console, this worker's spans join the caller's trace.
import { inSpan } from './tracing.js';

export { hashPassword, renderImage } from './jobs.js';

export interface CustomerTotal {
  customer: string;
  country: string;
  orders: number;
  total: number;
}

const db = new Database(process.env.OFFLOAD_DEMO_DB ?? 'demo.db', { readonly: true, fileMustExist: true });
const topCustomersQuery = db.prepare(`
  SELECT c.name AS customer, c.country AS country, COUNT(*) AS orders, ROUND(SUM(o.amount), 2) AS total
  FROM orders o JOIN customers c ON c.id = o.customer_id
  GROUP BY o.customer_id
  ORDER BY total DESC
  LIMIT ?
`);

/** A synchronous report query over the whole orders table: tens of milliseconds of blocking. */
export function topCustomers(limit: number): CustomerTotal[] {
  return inSpan('sqlite: top customers', () => topCustomersQuery.all(limit) as CustomerTotal[]);
}

const ordersQuery = db.prepare(`
  SELECT o.id AS id, c.name AS customer, c.country AS country, o.amount AS amount, o.day AS day
  FROM orders o JOIN customers c ON c.id = o.customer_id
  ORDER BY o.id
  LIMIT ?
`);

/**
 * Streams orders as CSV lines, read from SQLite one row at a time in the worker: the caller
 * pulls lines as fast as its client takes them, and a client that leaves ends the generator,
 * whose `finally` releases the statement (and, for the tests, records where it stopped).
 */
export function* ordersCsv(limit: number): Generator<string, void> {
  let rows = 0;
  let finished = false;
  try {
    yield 'id,customer,country,amount,day\n';
    for (const order of ordersQuery.iterate(limit) as IterableIterator<{ id: number; customer: string; country: string; amount: number; day: number }>) {
      rows++;
      yield `${order.id},${order.customer},${order.country},${order.amount},${order.day}\n`;
    }
    finished = true;
  } finally {
    const log = process.env.OFFLOAD_DEMO_EXPORT_LOG;
    if (log) appendFileSync(log, `${finished ? 'finished' : 'stopped'} after ${rows} rows\n`);
  }
}

/** The seed's `blocking_task`. */
export function blockingTask(n: number): number {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  return n;
}

export function teardown(): void {
  db.close();
}
