/**
 * The same routes served through each HTTP adapter, so one suite can hold every adapter to the
 * same behaviour. Adapters are imported as users import them, through the package's exports.
 */
import { EventEmitter, getEventListeners, once } from 'node:events';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import type { Pool, RunOptions } from 'offload';
import { offload as expressOffload, offloadErrorHandler } from 'offload/express';
import fastifyOffload from 'offload/fastify';
import { handle, type RequestPool } from 'offload/http';
import type * as Tasks from './fixtures/http-tasks.js';

export type HttpTasks = typeof Tasks;
type Route = (offload: RequestPool<HttpTasks>, query: URLSearchParams) => Promise<unknown>;

export interface Served {
  base: string;
  /** Emits `called` with a route's tag once its task has been handed to the pool. */
  calls: EventEmitter;
  close(): Promise<void>;
}

const applicationSignal = new AbortController().signal;

function routes(calls: EventEmitter): Record<string, Route> {
  return {
    '/echo': async (offload, query) => ({ value: await offload.tasks.echo(query.get('value')) }),
    '/wait': async (offload, query) => {
      const tag = query.get('tag') ?? '';
      // The pool admits (or refuses) synchronously, so after this line the task is queued or running.
      const answer = offload.tasks.waitForCancel(tag);
      calls.emit('called', tag);
      return { value: await answer };
    },
    '/timeout': async (offload) => ({ value: await offload.tasks.waitForCancel.with({ timeout: 50 })('timeout') }),
    '/cancellations': async (offload) => ({ value: await offload.tasks.cancellations() }),
    '/not-cloneable': async (offload) => ({ value: await offload.tasks.echo(() => 'a function cannot cross') }),
    '/bad-input': async (offload) => ({ value: await offload.tasks.rejectInput('width must be at most 4096') }),
    '/fail': async (offload) => ({ value: await offload.tasks.fail('hunter2') }),
    '/unsendable': async (offload) => ({ value: await offload.tasks.unsendable() }),
    '/borrowed-code': async (offload, query) => ({ value: await offload.tasks.borrowCode(query.get('code') ?? '') }),
    '/wait-own-signal': async (offload, query) => {
      const tag = query.get('tag') ?? '';
      // A signal of the application's, as one shared by every call would be: the request's still cancels.
      const answer = offload.tasks.waitForCancel.with({ signal: applicationSignal })(tag);
      calls.emit('called', tag);
      return { value: await answer };
    },
    '/late-stream-own-signal': async (offload, query) => {
      const tag = query.get('tag') ?? '';
      // Made now, with a signal of its own, and first read only once the client has gone.
      const items = offload.stream('countTo', [tag, 500], { signal: applicationSignal });
      calls.emit('called', tag);
      if (!offload.signal.aborted) await once(offload.signal, 'abort');
      let count = 0;
      try {
        for await (const _ of items) count++;
        calls.emit('streamed', `${tag}: all ${count} items`);
      } catch (error) {
        calls.emit('streamed', `${tag}: ${(error as { code?: string }).code} after ${count} items`);
      }
      return {};
    },
    '/streams-begun': async (offload) => ({ value: await offload.tasks.streamsBegunSoFar() }),
    '/calls-with-own-signals': async (offload) => {
      // Twelve calls one after another, each with a signal of its own: what stays on the request's signal?
      for (let i = 0; i < 12; i++) await offload.tasks.echo.with({ signal: applicationSignal })(i);
      return { listeners: getEventListeners(offload.signal, 'abort').length };
    },
    '/throw-value': async (offload, query) => ({ value: await offload.tasks.throwValue(query.get('kind') ?? '') }),
    '/refusals': async (offload) => {
      // How each bad option is refused through the request's pool, to compare with the pool's own.
      const refusals: Record<string, string> = {};
      const options: Record<string, unknown> = { null: null, number: 5, 'proxy signal': { signal: new Proxy(new AbortController().signal, {}) }, 'string signal': { signal: 'nope' } };
      for (const [label, bad] of Object.entries(options)) {
        refusals[`run, ${label}`] = await refusalOf(() => offload.run('echo', [1], bad as RunOptions));
        refusals[`submit, ${label}`] = await new Promise<string>((resolve) => {
          let isInside = true;
          try {
            offload.submit('echo', [1], (error) => resolve(`${isInside ? 'called back at once' : 'called back'} with ${(error as Error | null)?.name}`), bad as RunOptions);
          } catch (error) {
            resolve(`threw ${(error as Error).name}`);
          }
          isInside = false;
        });
      }
      return refusals;
    },
  };
}

function queryOf(url: string | undefined): { path: string; query: URLSearchParams } {
  const parsed = new URL(url ?? '/', 'http://127.0.0.1');
  return { path: parsed.pathname, query: parsed.searchParams };
}

async function listening(server: Server, calls: EventEmitter): Promise<Served> {
  if (!server.listening) await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export const servers: Record<string, (pool: Pool<HttpTasks>) => Promise<Served>> = {
  async fastify(pool) {
    const calls = new EventEmitter();
    const app = Fastify({ logger: false });
    await app.register(fastifyOffload, { pool });
    for (const [path, route] of Object.entries(routes(calls))) {
      app.get(path, (request) => route(request.offload.of(pool), queryOf(request.url).query));
    }
    await app.listen({ port: 0, host: '127.0.0.1' });
    const served = await listening(app.server, calls);
    return { ...served, close: () => app.close() };
  },

  async express(pool) {
    const calls = new EventEmitter();
    const app = express();
    app.use(expressOffload(pool));
    for (const [path, route] of Object.entries(routes(calls))) {
      app.get(path, async (request, response) => {
        response.json(await route(request.offload.of(pool), queryOf(request.url).query));
      });
    }
    app.use(offloadErrorHandler());
    return listening(app.listen(0, '127.0.0.1'), calls);
  },

  async http(pool) {
    const calls = new EventEmitter();
    const table = routes(calls);
    const server = createServer(
      handle(pool, (request, response, offload) => {
        const { path, query } = queryOf(request.url);
        const route = table[path];
        if (route === undefined) {
          response.writeHead(404).end();
          return undefined;
        }
        return route(offload, query);
      }),
    );
    server.listen(0, '127.0.0.1');
    return listening(server, calls);
  },
};

/** How a call was refused: thrown at once, or a rejected promise (with the error's name). */
async function refusalOf(call: () => Promise<unknown>): Promise<string> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (error) {
    return `threw ${(error as Error).name}`;
  }
  try {
    await promise;
    return 'ran';
  } catch (error) {
    return `rejected with ${(error as Error).name}`;
  }
}

/** A request the test can drop mid-flight, as a closed browser tab does. */
export function openRequest(url: string): { drop(): void } {
  const request = get(url);
  request.on('error', () => {}); // dropping it is the point
  return { drop: () => request.destroy() };
}

/** Resolves when `emitter` emits `event` with `value`. */
export async function emitted(emitter: EventEmitter, event: string, value: unknown): Promise<void> {
  for await (const [seen] of EventEmitter.on(emitter, event)) if (seen === value) return;
}
