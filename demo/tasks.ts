/**
 * The demo's task module. Each worker opens its own read-only connection once, at load:
 * per-worker resources live at the top level of a task module.
 */
import Database from 'better-sqlite3';

import { lowerThreadPriority } from './thread-priority.js';

export { hashPassword, renderImage } from './jobs.js';

// Top-level code runs once per worker: each worker thread yields the CPU to the main thread.
lowerThreadPriority();

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
  return topCustomersQuery.all(limit) as CustomerTotal[];
}

/** The seed's `blocking_task`. */
export function blockingTask(n: number): number {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  return n;
}

export function teardown(): void {
  db.close();
}
