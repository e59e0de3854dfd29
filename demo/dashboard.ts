/**
 * Serves the live dashboard: two static files, read once at start-up, no build step.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { registerBurst } from './burst.js';

const files = {
  '/dashboard': { path: './dashboard/index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { path: './dashboard/dashboard.js', type: 'text/javascript; charset=utf-8' },
} as const;

export function registerDashboard(app: FastifyInstance): void {
  for (const [route, file] of Object.entries(files)) {
    const body = readFileSync(new URL(file.path, import.meta.url));
    app.get(route, (_request, reply) => reply.type(file.type).header('cache-control', 'no-cache').send(body));
  }
  registerBurst(app);
}
