/**
 * One mapping from an error to an HTTP answer, shared by every adapter so that Fastify, Express
 * and plain `node:http` answer the same failure the same way.
 *
 * Only client errors (4xx) carry their message to the client: a 5xx says what went wrong in
 * general words and never a message, stack or cause, which may hold SQL, paths or secrets.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { isRaisedByOffload } from '../errors.js';

/** What to send for an error: status, headers and a JSON body shaped like Fastify's own errors. */
export interface HttpErrorResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: {
    statusCode: number;
    /** The status text, such as `Service Unavailable`. */
    error: string;
    /** The offload code (`ERR_OFFLOAD_*`), or the error's own string `code` for a 4xx. */
    code?: string;
    message: string;
  };
}

/** nginx's status for "the client closed the request before the answer": never sent on a live socket by choice. */
export const CLIENT_CLOSED_REQUEST = 499;

const STATUS_TEXT: Record<number, string> = { [CLIENT_CLOSED_REQUEST]: 'Client Closed Request' };

export function httpErrorFor(error: unknown): HttpErrorResponse {
  const code = stringProperty(error, 'code');
  // Mapped by code only when offload raised it: a task's error that borrows a code is the task's.
  switch (isRaisedByOffload(error) ? code : undefined) {
    case 'ERR_OFFLOAD_QUEUE_FULL': {
      // `retryAfter` is in ms; the header counts whole seconds, and 0 would invite a stampede.
      const retryAfterMs = numberProperty(error, 'retryAfter') ?? 1000;
      const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
      return answer(503, code, `The server is busy; retry in ${seconds} s`, { 'retry-after': String(seconds) });
    }
    case 'ERR_OFFLOAD_TIMEOUT':
      return answer(504, code, 'The work did not finish in time');
    case 'ERR_OFFLOAD_NOT_CLONEABLE': {
      // The request carried a value that cannot reach a worker: the answer names only its path,
      // never V8's description of the value (a function's source, say). A result or a streamed
      // item that cannot be sent back is the server's own failure.
      const path = stringProperty(error, 'path') ?? 'args';
      return path.startsWith('args')
        ? answer(400, code, `${path} cannot be sent to a worker`)
        : answer(500, undefined, 'Internal Server Error');
    }
    case 'ERR_OFFLOAD_ABORTED':
      // An `AbortSignal.timeout()` is a deadline like any other; any other abort is the client leaving.
      return isTimeoutReason(causeOf(error))
        ? answer(504, code, 'The work did not finish in time')
        : answer(CLIENT_CLOSED_REQUEST, code, 'The request was cancelled');
    case 'ERR_OFFLOAD_CLOSED':
      return answer(503, code, 'The server is shutting down');
    case undefined:
      break;
    default:
      if (code!.startsWith('ERR_OFFLOAD_')) return answer(500, code, 'Internal Server Error');
  }
  // The http-errors convention (also Fastify's and Express's): a task may reject bad input with
  // `statusCode: 400` and a message meant for the client.
  const status = numberProperty(error, 'statusCode') ?? numberProperty(error, 'status');
  if (status !== undefined && Number.isInteger(status) && status >= 400 && status <= 599) {
    return status < 500 ? answer(status, clientCode(code), messageOf(error)) : answer(status, undefined, statusText(status));
  }
  return answer(500, undefined, 'Internal Server Error');
}

/**
 * Writes the mapped answer on a raw response (Express's `res` is one too). When headers are
 * already out there is no honest way to signal the failure but to cut the response short.
 */
export function sendHttpError(response: ServerResponse, error: unknown): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  if (response.destroyed) return;
  const { statusCode, headers, body } = httpErrorFor(error);
  const payload = JSON.stringify(body);
  response.writeHead(statusCode, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(payload)),
  });
  response.end(payload);
}

/** Whether offload raised the error (as opposed to the framework, or a task that borrowed a code). */
export function isOffloadError(error: unknown): boolean {
  return isRaisedByOffload(error);
}

/** A task's own 4xx keeps its code, unless it borrowed one of offload's, which would mislead the client. */
function clientCode(code: string | undefined): string | undefined {
  return code?.startsWith('ERR_OFFLOAD_') ? undefined : code;
}

function answer(statusCode: number, code: string | undefined, message: string, headers: Record<string, string> = {}): HttpErrorResponse {
  const body: HttpErrorResponse['body'] = { statusCode, error: statusText(statusCode), message };
  if (code !== undefined) body.code = code;
  return { statusCode, headers, body };
}

function statusText(statusCode: number): string {
  return STATUS_TEXT[statusCode] ?? STATUS_CODES[statusCode] ?? 'Error';
}

function messageOf(error: unknown): string {
  return stringProperty(error, 'message') ?? statusText(400);
}

function causeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { cause?: unknown }).cause : undefined;
}

function isTimeoutReason(reason: unknown): boolean {
  return stringProperty(reason, 'name') === 'TimeoutError';
}

function stringProperty(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const property = (value as Record<string, unknown>)[key];
  return typeof property === 'string' ? property : undefined;
}

function numberProperty(value: unknown, key: string): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const property = (value as Record<string, unknown>)[key];
  return typeof property === 'number' && Number.isFinite(property) ? property : undefined;
}
