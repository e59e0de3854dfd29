import { receiveMessageOnPort, workerData, type MessagePort, type TransferListItem } from 'node:worker_threads';
import type { MainMessage, WorkerInit, WorkerMessage } from '../protocol/messages.js';
import { flushStdio } from './flush-stdio.js';
import { runWorker } from './runtime.js';

/** How long a closing thread waits for its stdout and stderr to reach the main thread. */
const STDIO_FLUSH_LIMIT_MS = 2_000;

// The pool's own channel, not `parentPort`: what task code posts there (code written for a bare
// worker thread, say) never reaches the pool, whatever its shape.
const { port, ...init } = workerData as WorkerInit & { port: MessagePort };
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
  init,
);
