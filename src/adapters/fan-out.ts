/**
 * One listener on a source, however many wait on it: a keep-alive connection serving request
 * after request, or a request making call after call, would otherwise collect a listener per
 * waiter (and Node's warning past ten). Waiters come and go; the source's one listener stays
 * until it fires.
 */
export class FanOut<Source extends object> {
  readonly #waiting = new WeakMap<Source, Set<() => void>>();
  readonly #listen: (source: Source, fire: () => void) => void;

  /** `listen` attaches the one listener, which must call `fire` once, when the source fires. */
  constructor(listen: (source: Source, fire: () => void) => void) {
    this.#listen = listen;
  }

  /**
   * Calls `callback` when `source` fires; returns what stops waiting. Only for a source that has
   * not fired yet (callers check): one that has would never call it.
   */
  add(source: Source, callback: () => void): () => void {
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
