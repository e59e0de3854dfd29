// A bare worker_threads worker for the decomposition bench's level r: runs each task it is sent.
import { parentPort } from 'node:worker_threads';
import * as tasks from '../tasks/remote.mjs';

parentPort.on('message', ([id, name, args]) => parentPort.postMessage([id, tasks[name](...args)]));
