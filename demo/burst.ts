/**
 * `POST /burst`: fires a burst of real heavy requests at this server, offloaded or inline, and
 * answers once all are done. The server sends them to itself over loopback because a browser
 * opens at most six connections to one server: a burst fired from the dashboard would queue the
 * dashboard's own /health probes behind it, in the browser, and the chart would show that queue
 * instead of the server.
 */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';

export const JOBS = ['hash', 'image', 'report'] as const;
export const MODES = ['offloaded', 'inline'] as const;

export interface BurstRequest {
  job: (typeof JOBS)[number];
  mode: (typeof MODES)[number];
  count: number;
}

export interface BurstResult extends BurstRequest {
  /** Requests answered 200, and the others. */
  succeeded: number;
  failed: number;
  /** Milliseconds from the first request sent to the last answer. */
  elapsed: number;
}

export function registerBurst(app: FastifyInstance): void {
  app.post<{ Body: BurstRequest }>(
    '/burst',
    {
      schema: {
        body: {
          type: 'object',
          required: ['job', 'mode', 'count'],
          additionalProperties: false,
          properties: {
            job: { type: 'string', enum: [...JOBS] },
            mode: { type: 'string', enum: [...MODES] },
            count: { type: 'integer', minimum: 1, maximum: 200 },
          },
        },
      },
    },
    async (request): Promise<BurstResult> => {
      const { job, mode, count } = request.body;
      const { port } = app.server.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}/${job}?inline=${mode === 'inline' ? 1 : 0}`;
      const started = performance.now();
      const outcomes = await Promise.allSettled(
        Array.from({ length: count }, async () => {
          // A client that leaves takes its burst with it: every request still out is cancelled.
          const response = await fetch(url, { signal: request.offload.signal });
          await response.arrayBuffer();
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
        }),
      );
      const succeeded = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
      return { job, mode, count, succeeded, failed: count - succeeded, elapsed: Math.round(performance.now() - started) };
    },
  );
}
