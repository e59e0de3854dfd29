import { parentPort, receiveMessageOnPort, workerData, type TransferListItem } from 'node:worker_threads';
import type { MainMessage, WorkerInit, WorkerMessage } from '../protocol/messages.js';
import { flushStdio } from './flush-stdio.js';
import { runWorker } from './runtime.js';

/** How long a closing thread waits for its stdout and stderr to reach the main thread. */
const STDIO_FLUSH_LIMIT_MS = 2_000;

const port = parentPort!;
// A message this thread cannot read (a buffer detached before it arrived) would otherwise be
// dropped without a word, and the tasks in it wait forever: ending the thread fails them as a crash.
port.on('messageerror', (error) => {
  throw error;
});
void runWorker(
  {
    post: (message: WorkerMessage, transfer?: TransferListItem[]) => port.postMessage(message, transfer),
    onMessage: (handler: (message: MainMessage) => void) => port.on('message', handler),
    receive: () => receiveMessageOnPort(port)?.message as MainMessage | undefined,
    flushOutput: () => flushStdio(STDIO_FLUSH_LIMIT_MS),
  },
  workerData as WorkerInit,
);
