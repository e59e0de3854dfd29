import { writeSync as __w } from 'node:fs';
globalThis.__s = (l) => __w(2, l + ' ' + process.hrtime.bigint() + '\n');
__s('W-top');
import { parentPort } from 'node:worker_threads';
parentPort.on('message', (message) => { __s('W-msg'); parentPort.postMessage(message); });
