/**
 * The demo's embedded SQLite file: created and seeded on first start, large enough that the
 * report query takes tens of milliseconds, which is what blocks an event loop.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export const ORDER_COUNT = 400_000;
const CUSTOMER_COUNT = 5_000;

export function ensureDatabase(path: string): void {
  if (existsSync(path)) return;
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  const db = new Database(temporary);
  db.pragma('journal_mode = OFF');
  db.exec(`
    CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, amount REAL NOT NULL, day INTEGER NOT NULL);
  `);
  const countries = ['FR', 'DE', 'US', 'JP', 'BR', 'IN', 'NG', 'CA'];
  const addCustomer = db.prepare('INSERT INTO customers (id, name, country) VALUES (?, ?, ?)');
  const addOrder = db.prepare('INSERT INTO orders (customer_id, amount, day) VALUES (?, ?, ?)');
  let seed = 42;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  db.transaction(() => {
    for (let id = 1; id <= CUSTOMER_COUNT; id++) addCustomer.run(id, `Customer ${id}`, countries[id % countries.length]);
    for (let i = 0; i < ORDER_COUNT; i++) {
      addOrder.run(1 + Math.floor(random() * CUSTOMER_COUNT), Math.round(random() * 50_000) / 100, Math.floor(random() * 365));
    }
  })();
  db.close();
  // Rename last, so a half-seeded file is never taken for a finished one.
  renameSync(temporary, path);
}
