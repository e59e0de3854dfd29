/** `offload/remote`: the worker side of the remote executor, for embedding in your own process. */
export { startRemoteWorker } from './worker.js';
export type { RemoteWorker, RemoteWorkerOptions } from './worker.js';
export type { RemoteConnection, RemoteConnectionOptions } from './options.js';
