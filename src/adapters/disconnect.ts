/**
 * The one "the client went away" signal every adapter uses, so a closed browser tab frees the
 * worker that was computing its answer.
 *
 * Watches the response and its connection, not the request: since Node 16 an `IncomingMessage`
 * emits `close` as soon as its body has been read, which says nothing about the client. A
 * response that closes before it finished writing is the reliable sign the connection dropped
 * before the answer. A pipelined response waiting behind another has no socket yet and hears
 * nothing when the connection drops, so the connection itself is watched too.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { FanOut } from './fan-out.js';

const connectionClosed = new FanOut<Socket>((socket, fire) => socket.once('close', fire));

export function disconnectSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  if (response.writableFinished) return controller.signal; // answered already: it can never fire
  const connection = response.socket ?? response.req?.socket ?? null;
  let stopWatchingConnection: (() => void) | undefined;
  const onClose = (): void => {
    stopWatching();
    if (!response.writableFinished) controller.abort(disconnected());
  };
  const stopWatching = (): void => {
    response.off('close', onClose);
    response.off('finish', stopWatching);
    stopWatchingConnection?.();
  };
  // The connection may have dropped before the first call asked for the signal.
  if (response.destroyed || connection?.destroyed === true) {
    onClose();
    return controller.signal;
  }
  response.once('close', onClose);
  response.once('finish', stopWatching);
  if (connection !== null) stopWatchingConnection = connectionClosed.add(connection, onClose);
  return controller.signal;
}

/** An `AbortError`-named reason, as `AbortController.abort()` gives by default, with a useful message. */
function disconnected(): DOMException {
  return new DOMException('The client disconnected before the answer', 'AbortError');
}
