/**
 * The one "the client went away" signal every adapter uses, so a closed browser tab frees the
 * worker that was computing its answer.
 *
 * Watches the response, not the request: since Node 16 an `IncomingMessage` emits `close` as soon
 * as its body has been read, which says nothing about the client. A response that closes before
 * it finished writing is the reliable sign the connection dropped before the answer.
 */
import type { ServerResponse } from 'node:http';

export function disconnectSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  if (response.writableFinished) return controller.signal; // answered already: it can never fire
  const onClose = (): void => {
    if (!response.writableFinished) controller.abort(disconnected());
  };
  // The connection may have dropped before the first call asked for the signal.
  if (response.destroyed || response.socket?.destroyed === true) onClose();
  else response.once('close', onClose);
  return controller.signal;
}

/** An `AbortError`-named reason, as `AbortController.abort()` gives by default, with a useful message. */
function disconnected(): DOMException {
  return new DOMException('The client disconnected before the answer', 'AbortError');
}
