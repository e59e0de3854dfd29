/**
 * `offload/express`: a middleware that puts the pool on each request (`req.offload`, its calls
 * cancelled when the client disconnects) and an error handler that answers offload's errors with
 * the right status and any other error with a bare 500, never a stack.
 *
 * Written against `node:http` types, which Express's request and response extend, so the
 * module needs nothing from Express at run time. Express 5 forwards a rejected async handler to
 * the error handler by itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
// Types only (from @types/express), so the augmentation below has a module to merge into.
import type {} from 'express-serve-static-core';
import { Pool } from '../pool/pool.js';
import { sendHttpError } from './http-error.js';
import { RequestPool, type RegisteredTasks, type RequestDefaults } from './request-pool.js';

export { RequestPool, type Register, type RegisteredTasks, type RequestDefaults } from './request-pool.js';
export { httpErrorFor, sendHttpError, type HttpErrorResponse } from './http-error.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The offload pool, its calls cancelled when this request's client disconnects. */
    offload: RequestPool<RegisteredTasks>;
  }
}

type Next = (error?: unknown) => void;

/** `app.use(offload(pool))`: sets `req.offload` for the routes after it. */
export function offload(pool: Pool<object>, defaults: RequestDefaults = {}): (request: IncomingMessage, response: ServerResponse, next: Next) => void {
  if (!(pool instanceof Pool)) throw new TypeError('offload/express: offload(pool) needs a pool from createPool()');
  const typed = pool as Pool<RegisteredTasks>;
  return (request, response, next) => {
    (request as IncomingMessage & { offload: RequestPool<RegisteredTasks> }).offload = new RequestPool(typed, response, defaults);
    next();
  };
}

/**
 * `app.use(offloadErrorHandler())`, after the routes. Express recognises an error handler by its
 * four parameters, so the returned function keeps all four.
 */
export function offloadErrorHandler(): (error: unknown, request: IncomingMessage, response: ServerResponse, next: Next) => void {
  return (error, _request, response, next) => {
    // Part of the answer is out: only Express's default handler may end the connection now.
    if (response.headersSent) {
      next(error);
      return;
    }
    sendHttpError(response, error);
  };
}
