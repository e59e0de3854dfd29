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

/** What to run when a connection closes: one listener per socket, however many requests wait on it. */
const watchers = new WeakMap<Socket, Set<() => void>>();

export function disconnectSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  if (response.writableFinished) return controller.signal; // answered already: it can never fire
  const connection = response.socket ?? response.req?.socket ?? null;
  const onClose = (): void => {
    stopWatching();
    if (!response.writableFinished) controller.abort(disconnected());
  };
  const stopWatching = (): void => {
    response.off('close', onClose);
    response.off('finish', stopWatching);
    if (connection !== null) watchers.get(connection)?.delete(onClose);
  };
  // The connection may have dropped before the first call asked for the signal.
  if (response.destroyed || connection?.destroyed === true) {
    onClose();
    return controller.signal;
  }
  response.once('close', onClose);
  response.once('finish', stopWatching);
  if (connection !== null) watch(connection, onClose);
  return controller.signal;
}

function watch(connection: Socket, onClose: () => void): void {
  let waiting = watchers.get(connection);
  if (waiting === undefined) {
    const set = new Set<() => void>();
    waiting = set;
    watchers.set(connection, set);
    connection.once('close', () => {
      watchers.delete(connection);
      for (const callback of set) callback();
    });
  }
  waiting.add(onClose);
}

/** An `AbortError`-named reason, as `AbortController.abort()` gives by default, with a useful message. */
function disconnected(): DOMException {
  return new DOMException('The client disconnected before the answer', 'AbortError');
}
