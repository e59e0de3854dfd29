/**
 * What travels through Redis, both ways. BullMQ stores job data and return values as JSON, which
 * would lose Maps, Dates, BigInts, typed arrays and cycles, so values are serialised with V8's
 * structured clone serialiser (the algorithm threads use) and carried as base64 text.
 *
 * Nothing read from Redis is trusted: whoever can write to Redis can write a job, so a job only
 * names a task of the worker's own module (never a path or code), its size is checked before it
 * is decoded, and a malformed job or reply is refused with an error instead of being guessed at.
 */
import { v8 } from '../builtins.js';
import { NotCloneableError, PayloadTooLargeError } from '../errors.js';
import { findUncloneablePath } from '../protocol/clone-path.js';
import { decodeError, encodeError, type EncodedError } from '../protocol/error-codec.js';

/** Bumped when the shapes below change, so mismatched producers and workers fail clearly. */
export const PROTOCOL_VERSION = 2;

/** A job's data in Redis: the task's name is the job's name. */
export interface JobData {
  v: number;
  /** The arguments, V8-serialised, base64. */
  args: string;
  /** What the call carries to the task (trace and request context), V8-serialised, base64. */
  ctx?: string;
  /** Set for a generator task: the stream's `highWaterMark`, the items it may send before more credit comes. */
  s?: number;
}

/** Largest `highWaterMark` a job may carry: a forged one must not make a worker run unbounded. */
export const MAX_STREAM_CREDIT = 1_000_000;

/** How a job ended, from the worker's side. */
export const Reply = { Ok: 0, Failed: 1, Exited: 2, Progress: 3, Items: 4 } as const;

/** The local worker thread that ran the task exited: mirrored by the producer's slot. */
export interface ExitDetail {
  exitCode: number | null;
  signal: string | null;
  reason: string | undefined;
  error: EncodedError | undefined;
}

/** `[kind, busyMs, payload]`: a value, an encoded error, or how the worker thread exited. */
export type ReplyMessage =
  | [typeof Reply.Ok, number, unknown]
  | [typeof Reply.Failed, number, EncodedError]
  | [typeof Reply.Exited, number, ExitDetail];

/** Serialises a call's arguments; throws a DataCloneError or `ERR_OFFLOAD_TOO_LARGE`. */
export function encodeArgs(args: unknown[], limit: number, carried?: unknown): JobData {
  const bytes = v8().serialize(args);
  if (bytes.length > limit) throw new PayloadTooLargeError('args', bytes.length, limit);
  const data: JobData = { v: PROTOCOL_VERSION, args: bytes.toString('base64') };
  if (carried !== undefined) {
    const context = v8().serialize(carried);
    if (bytes.length + context.length > limit) throw new PayloadTooLargeError('context', bytes.length + context.length, limit);
    data.ctx = context.toString('base64');
  }
  return data;
}

/** What a job carries for its task, or `undefined` (none, or not readable: the task runs without it). */
export function decodeCarried(data: unknown, limit: number): unknown {
  const ctx = (data as Partial<JobData> | null)?.ctx;
  if (typeof ctx !== 'string' || (ctx.length * 3) / 4 > limit + 2) return undefined;
  try {
    return v8().deserialize(Buffer.from(ctx, 'base64'));
  } catch {
    return undefined;
  }
}

/** A generator job's initial credit (its `highWaterMark`); `undefined` for a plain job; throws when malformed. */
export function decodeStreamCredit(data: unknown): number | undefined {
  const credit = (data as Partial<JobData> | null)?.s;
  if (credit === undefined) return undefined;
  if (!Number.isSafeInteger(credit) || credit < 1 || credit > MAX_STREAM_CREDIT) throw new TypeError('The job carries a stream credit that is not a positive integer');
  return credit;
}

/** Reads a job's arguments back, refusing anything but what `encodeArgs` writes. */
export function decodeArgs(data: unknown, limit: number): unknown[] {
  const job = data as Partial<JobData> | null;
  if (job === null || typeof job !== 'object' || job.v !== PROTOCOL_VERSION || typeof job.args !== 'string') {
    throw new TypeError(`The job is not an offload job of protocol version ${PROTOCOL_VERSION}`);
  }
  // base64 is 4 characters for 3 bytes: refuse oversized jobs before decoding them.
  const size = Math.floor((job.args.length * 3) / 4);
  if (size > limit + 2) throw new PayloadTooLargeError('args', size, limit);
  const args: unknown = v8().deserialize(Buffer.from(job.args, 'base64'));
  if (!Array.isArray(args)) throw new TypeError('The job arguments are not an array');
  return args;
}

/**
 * What a worker tells the producer that added a job, through that producer's reply list: the
 * job's end (a `ReplyMessage`), a progress value while it runs, or items a generator yielded.
 */
export type ReplyEntry = ReplyMessage | [typeof Reply.Progress, unknown] | [typeof Reply.Items, unknown[]];

/**
 * A reply-list entry: the job id, a zero byte, the V8-serialised entry. A result too large or
 * not serialisable becomes the task's error.
 */
export function encodeEntry(jobId: string, entry: ReplyMessage | [typeof Reply.Progress, unknown], limit: number): Buffer {
  let bytes: Buffer;
  try {
    bytes = v8().serialize(entry);
  } catch (error) {
    if (entry[0] === Reply.Progress) return encodeEntry(jobId, [Reply.Progress, undefined], limit);
    // Named as a thread names it (`result.conn`): a worker without isolation hands the value over as is.
    const path = (entry[0] === Reply.Ok ? findUncloneablePath(entry[2], 'result', serialises) : undefined) ?? 'result';
    return encodeEntry(jobId, [Reply.Failed, entry[1], encodeError(new NotCloneableError(path, error))], limit);
  }
  if (bytes.length > limit) {
    if (entry[0] === Reply.Progress) return encodeEntry(jobId, [Reply.Progress, undefined], limit);
    return encodeEntry(jobId, [Reply.Failed, entry[1], encodeError(new PayloadTooLargeError('result', bytes.length, limit))], limit);
  }
  return withJobId(jobId, bytes);
}

/** Whether Redis can carry `value`: V8's serialiser takes less than a thread's port (no `Blob`). */
export function serialises(value: unknown): boolean {
  try {
    v8().serialize(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * A batch of streamed items as a reply-list entry. Throws what the pool would for an item that
 * cannot cross: a `NotCloneableError`, or `ERR_OFFLOAD_TOO_LARGE` for a batch over the limit
 * (the caller sends smaller batches first).
 */
export function encodeItems(jobId: string, items: unknown[], limit: number): Buffer {
  let bytes: Buffer;
  try {
    bytes = v8().serialize([Reply.Items, items]);
  } catch (error) {
    throw new NotCloneableError('item', error);
  }
  if (bytes.length > limit) throw new PayloadTooLargeError(items.length === 1 ? 'item' : 'items', bytes.length, limit);
  return withJobId(jobId, bytes);
}

function withJobId(jobId: string, bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(jobId, 'latin1'), SEPARATOR, bytes]);
}

export type DecodedEntry = { jobId: string; entry: ReplyEntry } | { jobId: string; error: TypeError };

/**
 * Reads a reply-list entry; never throws. `undefined` when not even its job id can be read; an
 * `error` when the job id can, so that call fails at once instead of waiting forever.
 */
export function decodeEntry(bytes: Buffer): DecodedEntry | undefined {
  const at = bytes.indexOf(0);
  if (at <= 0 || at > MAX_JOB_ID_LENGTH) return undefined;
  const jobId = bytes.toString('latin1', 0, at);
  try {
    const entry: unknown = v8().deserialize(bytes.subarray(at + 1));
    if (Array.isArray(entry) && entry.length === 2 && entry[0] === Reply.Progress) return { jobId, entry: [Reply.Progress, entry[1]] };
    if (Array.isArray(entry) && entry.length === 2 && entry[0] === Reply.Items && Array.isArray(entry[1])) return { jobId, entry: [Reply.Items, entry[1] as unknown[]] };
    return { jobId, entry: decodeReply(entry) };
  } catch (error) {
    return { jobId, error: error instanceof TypeError ? error : new TypeError('The remote worker sent a reply that cannot be decoded') };
  }
}

/** Checks a job's end; throws a TypeError when it is not one offload wrote. */
function decodeReply(reply: unknown): ReplyMessage {
  if (!Array.isArray(reply) || reply.length !== 3 || typeof reply[1] !== 'number') {
    throw new TypeError('The remote worker sent a malformed reply');
  }
  const [kind, , payload] = reply as [unknown, number, unknown];
  if (kind === Reply.Ok) return reply as ReplyMessage;
  if (kind === Reply.Failed && isDecodableError(payload)) return reply as ReplyMessage;
  if (kind === Reply.Exited && payload !== null && typeof payload === 'object') {
    const detail = payload as Partial<ExitDetail>;
    const exit: ExitDetail = {
      exitCode: typeof detail.exitCode === 'number' ? detail.exitCode : null,
      signal: typeof detail.signal === 'string' ? detail.signal : null,
      reason: typeof detail.reason === 'string' ? detail.reason : undefined,
      error: isDecodableError(detail.error) ? detail.error : undefined,
    };
    return [Reply.Exited, reply[1] as number, exit];
  }
  throw new TypeError('The remote worker sent a malformed reply');
}

/** Decoding is deterministic: an error that decodes here decodes again in the pool. */
function isDecodableError(payload: unknown): payload is EncodedError {
  if (payload === null || typeof payload !== 'object') return false;
  try {
    decodeError(payload as EncodedError);
    return true;
  } catch {
    return false;
  }
}

const SEPARATOR = Buffer.from([0]);
const MAX_JOB_ID_LENGTH = 128;

/**
 * A producer's job ids are `<producer id>-<n>`, and the producer id names its reply list.
 * A job with any other id names no producer: there is no one to answer, so it is not run.
 */
const JOB_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-[0-9]{1,15}$/;

export function producerOf(jobId: string | undefined): string | undefined {
  return jobId === undefined ? undefined : JOB_ID.exec(jobId)?.[1];
}

/**
 * A reply list expires this long after it was created or last renewed: workers set it on a list
 * they create, and its producer renews it while it reads, so only a list whose producer is gone
 * (a live one empties it within milliseconds) is left to expire.
 */
export const REPLY_TTL_MS = 60_000;

/** The list a producer reads its replies from; workers write it, and it expires if nobody reads it. */
export function replyList(prefix: string, queue: string, producer: string): string {
  return `${prefix}:${queue}:offload:replies:${producer}`;
}

/**
 * A stream's credit travels on pub/sub, which loses what is published while a subscriber
 * reconnects, so a producer repeats the total of each of its running streams every
 * `keepaliveMs`: a lost grant then costs a stream at most that long. Those repeats also say that
 * the stream's caller is still there: a worker ends a stream waiting for credit that heard
 * nothing for `silenceMs` (its producer died, or its call ended without the cancellation
 * reaching the worker), freeing its thread. Internal: tests shorten them rather than wait.
 */
export const streamLiveness = { keepaliveMs: 1000, silenceMs: 15_000 };

/** The pub/sub channel on which producers grant a running stream more credit: `<job id> <total granted>`. */
export function creditChannel(prefix: string, queue: string): string {
  return `${prefix}:${queue}:offload:credit`;
}

/** Where workers write which of their module's tasks are generators (a JSON array), for producers' typed handles. */
export function generatorsKey(prefix: string, queue: string): string {
  return `${prefix}:${queue}:offload:generators`;
}

/** The pub/sub channel on which producers ask workers to stop a running job. */
export function cancelChannel(prefix: string, queue: string): string {
  return `${prefix}:${queue}:offload:cancel`;
}

/** Most generator task names read from Redis: a forged list must not grow a producer's memory. */
const MAX_GENERATORS = 10_000;

/** Reads the generator task names a worker wrote; `undefined` when absent or not a list of task names. */
export function decodeGenerators(text: string | null): string[] | undefined {
  if (text === null || text.length > MAX_GENERATORS * 64) return undefined;
  try {
    const names: unknown = JSON.parse(text);
    if (!Array.isArray(names) || names.length > MAX_GENERATORS) return undefined;
    return names.every((name) => typeof name === 'string' && name.length <= 256) ? (names as string[]) : undefined;
  } catch {
    return undefined;
  }
}
