// The raw baseline of bench/executors.ts: answers each message, as a worker thread or a forked process.
import { parentPort } from 'node:worker_threads';

if (parentPort) parentPort.on('message', (message) => parentPort.postMessage(message));
else process.on('message', (message) => process.send(message));
