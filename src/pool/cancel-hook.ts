/**
 * Internal run option for callers that cancel calls by their own id (the remote worker, which
 * hears cancellations by job id on a channel): instead of an `AbortSignal` per call (an
 * `AbortController`, an event listener and its removal, for calls that almost never abort), the
 * pool hands the caller a function that cancels this call, as its signal would.
 */
export const cancelHook = Symbol('offload.cancelHook');

export interface CancellableOptions {
  /**
   * Called once, as the call is queued, with what cancels it (`reason` as a signal's). What it
   * returns, if a function, is called once the call has settled: to let go of `cancel`. Calling
   * `cancel` during the hook refuses the call (an `AbortError`, as an aborted signal would).
   */
  [cancelHook]?: (cancel: (reason: unknown) => void) => (() => void) | undefined;
}
