/**
 * The baseline's worker: one message in, one message out, nothing else. `echo` moves its buffer
 * back, as every library's transfer mechanism does.
 */
import { parentPort } from 'node:worker_threads';
import { length, noop, sleep, spin } from './tasks.js';

export type RawRequest = [id: number, task: string, input: unknown];
export type RawResponse = [id: number, result: unknown];

const tasks: Record<string, (input: never) => unknown> = {
  noop,
  spin,
  length,
  sleep,
  echo: (bytes: Uint8Array) => bytes,
};

parentPort?.on('message', ([id, task, input]: RawRequest) => {
  const result = tasks[task]!(input as never);
  const response: RawResponse = [id, result];
  if (task === 'echo') parentPort!.postMessage(response, [(result as Uint8Array<ArrayBuffer>).buffer]);
  else parentPort!.postMessage(response);
});
