/**
 * What a worker process receives before its task loop starts. A cold process pool sends a
 * process its first call with its spawn, so that it runs as soon as the task module has loaded,
 * without the ready → task round trip. Until then the call still waits, as far as the pool is
 * concerned, and the pool may want it back (cancelled, a call of higher priority, a worker ready
 * sooner). A thread settles that race in shared memory (see src/protocol/claim-cell.ts); a
 * process shares none with the pool, so this process decides, and says so in order on its
 * channel: a call asked back (`Revoke` or `Cancel`) before the loop starts is dropped and
 * answered `GivenBack`; one still here when the loop starts is run, after `Ready`. The pool,
 * reading the channel in order, learns which from whichever of the two comes first.
 */
import { FromWorker, ToWorker, type MainMessage, type WorkerMessage } from '../protocol/messages.js';

export class SpawnInbox {
  #held: MainMessage[] | undefined = [];
  #deliver: ((message: MainMessage) => void) | undefined;
  readonly #answer: (message: WorkerMessage) => void;

  constructor(answer: (message: WorkerMessage) => void) {
    this.#answer = answer;
  }

  receive(message: MainMessage): void {
    if (this.#held === undefined) {
      // Too late to give anything back: the loop has started the call (or ran it), as `Ready` said.
      if (message[0] !== ToWorker.Revoke) this.#deliver!(message);
      return;
    }
    if (message[0] === ToWorker.Revoke || message[0] === ToWorker.Cancel) {
      const at = this.#held.findIndex((held) => held[0] === ToWorker.Run && held[1] === message[1]);
      // Not held: already given back (a cancel crossing a revoke). Nothing runs yet to cancel.
      if (at === -1) return;
      // With its arguments: a buffer the call moved exists only here now.
      const [given] = this.#held.splice(at, 1) as [[number, number, unknown, unknown[]]];
      this.#answer([FromWorker.GivenBack, message[1], given[3]]);
      return;
    }
    this.#held.push(message);
  }

  /** The task loop starts: what was held goes to it, in order, and so does what follows. */
  start(deliver: (message: MainMessage) => void): void {
    const held = this.#held!;
    this.#held = undefined;
    this.#deliver = deliver;
    for (const message of held) deliver(message);
  }
}

/**
 * Calls `then` once the event loop has polled its I/O at least once from now: what the pool sent
 * while this thread was busy (loading the task module synchronously) has been read by then. One
 * `setImmediate` is not enough: called from an I/O callback, it runs before the next poll.
 */
export function afterPendingMessages(then: () => void): void {
  setImmediate(() => setImmediate(then));
}
