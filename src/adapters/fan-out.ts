/**
 * One listener on a source, however many wait on it: a keep-alive connection serving request
 * after request, or a request making call after call, would otherwise collect a listener per
 * waiter (and Node's warning past ten). Waiters come and go; the source's one listener stays
 * until it fires.
 */
export class FanOut<Source extends object> {
  readonly #waiting = new WeakMap<Source, Set<() => void>>();
  readonly #listen: (source: Source, fire: () => void) => void;
  readonly #fired: (source: Source) => boolean;

  /**
   * `listen` attaches the one listener, which must call `fire` once, when the source fires;
   * `fired` tells a source that has fired already, whose listener would never run.
   */
  constructor(listen: (source: Source, fire: () => void) => void, fired: (source: Source) => boolean) {
    this.#listen = listen;
    this.#fired = fired;
  }

  /**
   * Calls `callback` when `source` fires; returns what stops waiting. A source that fired before
   * is heard on a later microtask, never during `add`: its caller may still be setting up what
   * the callback undoes.
   */
  add(source: Source, callback: () => void): () => void {
    if (this.#fired(source)) {
      let pending = true;
      queueMicrotask(() => {
        if (pending) callback();
      });
      return () => {
        pending = false;
      };
    }
    let waiting = this.#waiting.get(source);
    if (waiting === undefined) {
      const callbacks = new Set<() => void>();
      waiting = callbacks;
      this.#waiting.set(source, callbacks);
      this.#listen(source, () => {
        this.#waiting.delete(source);
        for (const waiter of callbacks) {
          try {
            waiter();
          } catch (error) {
            // Each waiter hears the source whatever another did; the failure surfaces as an
            // event listener's would, not by silencing the waiters after it.
            queueMicrotask(() => {
              throw error;
            });
          }
        }
      });
    }
    const callbacks = waiting;
    callbacks.add(callback);
    return () => void callbacks.delete(callback);
  }
}
