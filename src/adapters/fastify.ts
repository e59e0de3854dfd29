/**
 * `offload/fastify`: a Fastify plugin. Registered once, it
 *
 * - decorates the instance with the pool (`app.offload`) and each request with the pool seen
 *   from that request (`request.offload`: calls are cancelled when the client disconnects);
 * - answers offload's errors with the right status (503 + Retry-After, 504, 400...) and any
 *   other server error with a bare 500, leaving Fastify's own client errors (validation, body
 *   parsing) to Fastify;
 * - closes the pool in `onClose`, after the server has stopped accepting requests.
 *
 * Wrapped with `fastify-plugin` so the decorations and the error handler reach the scope that
 * registered it instead of staying inside an encapsulated child context.
 */
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { Pool } from '../pool/pool.js';
import { httpErrorFor, isOffloadError, CLIENT_CLOSED_REQUEST } from './http-error.js';
import { RequestPool, type RegisteredTasks, type RequestDefaults } from './request-pool.js';

export { RequestPool, type Register, type RegisteredTasks, type RequestDefaults } from './request-pool.js';
export { httpErrorFor, type HttpErrorResponse } from './http-error.js';

export interface OffloadPluginOptions extends RequestDefaults {
  /** The pool to serve requests with. */
  pool: Pool<object>;
  /** Install the error handler described above. Default `true`; set `false` to use your own (see `offloadErrorHandler`). */
  errorHandler?: boolean;
  /** Close the pool when the app closes. Default `true`. */
  closePool?: boolean;
  /** With `closePool`: ms to let running tasks finish before they are cancelled. Default: wait for all. */
  closeTimeout?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The offload pool registered with `offload/fastify`. */
    offload: Pool<RegisteredTasks>;
  }
  interface FastifyRequest {
    /** The offload pool, its calls cancelled when this request's client disconnects. */
    offload: RequestPool<RegisteredTasks>;
  }
}

const plugin: FastifyPluginAsync<OffloadPluginOptions> = async (app, options) => {
  if (!(options.pool instanceof Pool)) throw new TypeError('offload/fastify: options.pool must be a pool from createPool()');
  const pool = options.pool as Pool<RegisteredTasks>;
  const defaults: RequestDefaults = options.timeout === undefined ? {} : { timeout: options.timeout };
  app.decorate('offload', pool);
  // Declared with null and filled per request, as Fastify recommends, so every request object
  // keeps the same shape.
  app.decorateRequest('offload', null as unknown as RequestPool<RegisteredTasks>);
  app.addHook('onRequest', (request, reply, done) => {
    request.offload = new RequestPool(pool, reply.raw, defaults);
    done();
  });
  if (options.errorHandler !== false) app.setErrorHandler(offloadErrorHandler);
  if (options.closePool !== false) {
    const closeOptions = options.closeTimeout === undefined ? {} : { timeout: options.closeTimeout };
    app.addHook('onClose', async () => {
      await pool.close(closeOptions);
    });
  }
};

/** The plugin: `await app.register(offload, { pool })`. */
export const offload = fastifyPlugin(plugin, { fastify: '5.x', name: 'offload' });
export default offload;

/**
 * The plugin's error handler, for apps that set their own: call it for the errors you do not
 * handle. Fastify's own client errors (a 4xx `statusCode` and no offload code) are rethrown, so
 * they reach Fastify's default handler unchanged.
 */
export function offloadErrorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // Fastify's own client errors are `Error`s: a task may throw anything, and Fastify would send a
  // thrown non-Error as a 200 payload (or fail to serialize it), so that is answered here.
  const status = error instanceof Error ? (error as { statusCode?: unknown }).statusCode : undefined;
  if (!isOffloadError(error) && typeof status === 'number' && status >= 400 && status < 500) throw error;
  const { statusCode, headers, body } = httpErrorFor(error);
  // The full error stays in the server's log; the client gets only the mapped answer.
  if (statusCode >= 500) request.log.error({ err: error }, 'offload: request failed');
  else if (statusCode === CLIENT_CLOSED_REQUEST) request.log.info('offload: client disconnected before the answer');
  return reply.code(statusCode).headers(headers).send(body);
}
