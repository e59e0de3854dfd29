/**
 * `offload/http`: wraps a plain `node:http` handler. The handler receives the pool seen from
 * the request (calls cancelled when the client disconnects); whatever it returns is sent, and
 * whatever it throws is answered with the shared error mapping (503 + Retry-After, 504, 400...,
 * else a bare 500).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from '../pool/pool.js';
import { sendHttpError } from './http-error.js';
import { RequestPool, type RequestDefaults } from './request-pool.js';

export { RequestPool, type Register, type RegisteredTasks, type RequestDefaults } from './request-pool.js';
export { httpErrorFor, sendHttpError, type HttpErrorResponse } from './http-error.js';

/**
 * A handler: answer through `response` and return nothing, or return the answer — a string
 * (text), a `Uint8Array` (bytes) or anything else (JSON).
 */
export type OffloadHandler<M extends object> = (
  request: IncomingMessage,
  response: ServerResponse,
  offload: RequestPool<M>,
) => unknown;

/** `http.createServer(handle(pool, async (req, res, offload) => offload.tasks.report(7)))`. */
export function handle<M extends object>(
  pool: Pool<M>,
  handler: OffloadHandler<M>,
  defaults: RequestDefaults = {},
): (request: IncomingMessage, response: ServerResponse) => void {
  if (!(pool instanceof Pool)) throw new TypeError('offload/http: handle(pool, handler) needs a pool from createPool()');
  if (typeof handler !== 'function') throw new TypeError('offload/http: handle(pool, handler) needs a handler function');
  return (request, response) => {
    const offload = new RequestPool(pool, response, defaults);
    // A synchronous throw, a rejection and a value that cannot be sent all take the same path.
    new Promise<unknown>((resolve) => resolve(handler(request, response, offload)))
      .then((value) => send(response, value))
      .catch((error: unknown) => sendHttpError(response, error))
      .catch(() => response.destroy());
  };
}

function send(response: ServerResponse, value: unknown): void {
  if (value === undefined || response.writableEnded || response.destroyed) return;
  let body: string | Uint8Array;
  let type: string;
  if (typeof value === 'string') {
    body = value;
    type = 'text/plain; charset=utf-8';
  } else if (value instanceof Uint8Array) {
    body = value;
    type = 'application/octet-stream';
  } else {
    body = JSON.stringify(value);
    type = 'application/json; charset=utf-8';
  }
  if (!response.headersSent) {
    if (!response.hasHeader('content-type')) response.setHeader('content-type', type);
    response.setHeader('content-length', typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
  }
  response.end(body);
}
