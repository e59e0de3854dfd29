/**
 * Entry of a worker process: adapts the IPC channel to the executor-agnostic task loop, and adds
 * what only a process needs: a control thread (cancellation that a synchronous loop can see, and
 * an end with the parent), and a report of a fatal error before dying.
 */
import type { TransferListItem } from 'node:worker_threads';
import { createCancelFlag } from '../protocol/cancel-flag.js';
import { encodeThrownByTask } from '../protocol/error-codec.js';
import { FromWorker, type MainMessage, type WorkerInit, type WorkerMessage } from '../protocol/messages.js';
import { FATAL, INIT_VARIABLE, refuseProcessLocal } from '../protocol/process-channel.js';
import { detachTransferred, refuseUnmovable } from '../transfer.js';
import { checkListening, keepListening } from './kept-listeners.js';
import { exitOnDisconnect, startControlThread } from './process-control.js';
import { runWorker } from './runtime.js';
import { afterPendingMessages, SpawnInbox } from './spawn-inbox.js';

/** Where user values sit in the messages that carry them: first index, step, and their name. */
const VALUES: Partial<Record<WorkerMessage[0], readonly [number, number, string]>> = {
  [FromWorker.Results]: [4, 3, 'result'], // [Results, busyMs, id, status, value, ...]
  [FromWorker.Items]: [2, 1, 'item'], // [Items, id, item, item, ...]
  [FromWorker.Progress]: [2, 1, 'progress'], // [Progress, id, value]
};

const serialized = process.env[INIT_VARIABLE];
// Task code and its own child processes must not see (or inherit) the pool's internals.
delete process.env[INIT_VARIABLE];
const send = process.send?.bind(process);
if (serialized === undefined || send === undefined) {
  throw new Error('offload: this file runs only as a worker process started by a pool');
}
// The channel to the parent is the pool's: a message task code sends on it (code written for a
// forked child, say) would be read as offload's own, a forged result or `Ready`. Theirs is sent
// as an object, which the pool does not read; the callback, if any, is called as Node would.
process.send = ((_message: unknown, ...rest: unknown[]): boolean => {
  const callback = rest.find((argument) => typeof argument === 'function') as ((error: Error | null) => void) | undefined;
  return send({ fromTask: true }, undefined, undefined, callback);
}) as typeof process.send;
// Shared with the control thread, which writes cancelled task ids into it: `isCancelled()` in a
// synchronous loop then works as on a thread.
const cancelFlag = createCancelFlag();
const init: WorkerInit = { ...(JSON.parse(serialized) as WorkerInit), cancelFlag };

exitOnDisconnect();

keepListening('uncaughtExceptionMonitor', (error: unknown) => {
  // Only when the error is about to end the process: with a handler of the task module's own,
  // it lives on. The channel writes at once when it is not backed up, so the parent receives
  // this although the process dies right after.
  if (process.listenerCount('uncaughtException') > 0) return;
  try {
    send([FATAL, encodeThrownByTask(error)]);
  } catch {
    // The channel is gone: the exit code alone will tell the parent.
  }
});

// From the start: the pool may send the first call with the spawn, and ask for it back.
const inbox = new SpawnInbox((message) => send(message));
keepListening('message', (message: unknown) => inbox.receive(message as MainMessage));
let taskLoop: ((message: MainMessage) => void) | undefined;

// While the task module loads, the channel alone keeps this process alive: a module whose
// top-level await can never settle then ends it (exit code 13) and fails to load, as on a thread,
// instead of leaving a worker that never becomes ready. Held again once the load has ended.
const channel = process.channel as { ref(): void; unref(): void } | undefined;
channel?.unref();

void runWorker(
  {
    post(message: WorkerMessage, transfer?: TransferListItem[]): void {
      const values = VALUES[message[0]];
      if (values !== undefined) {
        const [first, step, root] = values;
        refuseProcessLocal(message, first, step, root);
        refuseUnmovable(transfer, root, 'the parent process');
      }
      if (message[0] === FromWorker.Results) checkListening();
      if (message[0] === FromWorker.Ready || message[0] === FromWorker.LoadFailed) channel?.ref();
      if (message[0] === FromWorker.Ready) {
        // What the pool sent while the module loaded synchronously is read first, so a call it
        // asked back by then is given back (before `Ready`), not run.
        afterPendingMessages(() => {
          send(message);
          startControlThread(cancelFlag);
          inbox.start(taskLoop!);
        });
        return;
      }
      send(message);
      if (transfer !== undefined && transfer.length > 0) detachTransferred(transfer);
    },
    onMessage(handler: (message: MainMessage) => void): void {
      taskLoop = handler;
    },
  },
  init,
);
