import { parentPort, receiveMessageOnPort, workerData, type TransferListItem } from 'node:worker_threads';
import type { MainMessage, WorkerInit, WorkerMessage } from '../protocol/messages.js';
import { runWorker } from './runtime.js';

const port = parentPort!;
void runWorker(
  {
    post: (message: WorkerMessage, transfer?: TransferListItem[]) => port.postMessage(message, transfer),
    onMessage: (handler: (message: MainMessage) => void) => port.on('message', handler),
    receive: () => receiveMessageOnPort(port)?.message as MainMessage | undefined,
  },
  workerData as WorkerInit,
);
