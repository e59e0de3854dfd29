/**
 * The process executor: each worker is a forked Node process, reached over an IPC channel with
 * the `advanced` (structured clone) serialization. A native crash, a heap exhausted or a leak
 * ends one process, never the pool's; the pool hears how it ended and carries on.
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { TransferListItem } from 'node:worker_threads';
import { childProcess } from '../builtins.js';
import { decodeError, type EncodedError } from '../protocol/error-codec.js';
import { ToWorker, type MainMessage, type WorkerInit, type WorkerMessage } from '../protocol/messages.js';
import { CONTROL_FD, FATAL, INIT_VARIABLE, refuseProcessLocal } from '../protocol/process-channel.js';
import { detachTransferred, refuseUnmovable } from '../transfer.js';
import { entryUrl, resolveOnce, typeScriptLoader, type Executor, type WorkerEvents, type WorkerExit, type WorkerHandle } from './executor.js';
import { PrefixedLines } from './output.js';
import { workerFlags } from './process-flags.js';
// Nothing used: the pool loads this file on demand (see ./index.ts), and reaching the pool from
// here too keeps the bundler from splitting the library's chunk in two by who reaches what.
import '../pool/pool.js';

export interface ProcessExecutorOptions {
  env?: NodeJS.ProcessEnv | undefined;
  execArgv?: string[] | undefined;
  cwd?: string | undefined;
  maxOldSpaceSizeMb?: number | undefined;
}

const entry = fileURLToPath(entryUrl('process-entry'));

/** What V8 prints, through Node, as it aborts on a full heap; the exit itself says only SIGABRT. */
const OUT_OF_MEMORY = /^FATAL ERROR: .*JavaScript heap out of memory/;
/**
 * How long an exit report may wait for the pipes and the channel to drain. They close within a
 * tick of the exit unless a grandchild holds them open; meanwhile the pool still counts the
 * worker, so the wait is kept short.
 */
const DRAIN_MS = 100;

export class ProcessExecutor implements Executor {
  /** Processes share no memory: cancellation reaches a running task as a message. */
  readonly sharesMemory = false;
  /** A cold pool hands each process its first call with its spawn, revocable over the channel. */
  readonly givesBackByMessage = true;
  readonly #options: ProcessExecutorOptions;

  constructor(options: ProcessExecutorOptions = {}) {
    this.#options = options;
  }

  spawn(init: WorkerInit, events: WorkerEvents): WorkerHandle {
    // Plain data only: the child makes its own cancel flag (see process-control.ts).
    const childInit: WorkerInit = { ...init, cancelFlag: undefined, claimCell: undefined };
    const child = childProcess().fork(entry, [], {
      serialization: 'advanced',
      execArgv: workerFlags({
        execArgv: this.#options.execArgv,
        loader: processLoader(init.moduleUrl),
        maxOldSpaceSizeMb: this.#options.maxOldSpaceSizeMb,
      }),
      env: { ...(this.#options.env ?? process.env), [INIT_VARIABLE]: JSON.stringify(childInit) },
      cwd: this.#options.cwd,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', 'pipe'],
    });
    const pipes = pipesOf(child);
    let isReported = false;
    const report = (exit: WorkerExit): void => {
      if (isReported) return;
      isReported = true;
      // From now on the pipes only forward what a grandchild may still write: never wait for them.
      for (const pipe of pipes) pipe.unref();
      events.exit(exit);
    };
    child.on('error', (error) => {
      // A failed spawn may end without an 'exit'; other errors (a send on a closed channel) are
      // followed by the exit, which is what the pool needs to hear.
      if (child.pid === undefined) report({ exitCode: null, signal: null, reason: error.message, error });
    });
    if (child.stdio == null) {
      // Out of file descriptors (EMFILE, ENFILE): Node set up neither pipes nor channel, and its
      // 'error', heard above, follows on the next tick. Nothing can reach this worker meanwhile.
      return { post: () => {}, ref: () => {}, unref: () => {}, terminate: () => {} };
    }
    const control = child.stdio[CONTROL_FD] as Socket;
    // Written to, never read; it must never keep the parent alive, and a dead child's EPIPE is
    // told by its exit.
    control.unref();
    control.on('error', () => {});
    const prefix = `[${init.poolName}#${init.workerId}] `;
    let isOutOfMemory = false;
    new PrefixedLines(prefix, process.stdout).forward(child.stdout!);
    new PrefixedLines(prefix, process.stderr, (line) => {
      if (OUT_OF_MEMORY.test(line)) isOutOfMemory = true;
    }).forward(child.stderr!);

    let fatal: unknown;
    child.on('message', (message: WorkerMessage | [typeof FATAL, EncodedError]) => {
      if (!Array.isArray(message)) return; // not offload's (see process-entry.ts)
      if (message[0] === FATAL) fatal = decodeError(message[1]);
      else events.message(message);
    });

    child.once('exit', (exitCode, signal) => {
      // 'close' follows once the pipes and the channel are drained, so the out-of-memory line and
      // a fatal error sent just before dying have been read by then.
      const timer = setTimeout(finish, DRAIN_MS);
      child.once('close', finish);
      function finish(): void {
        clearTimeout(timer);
        const exit: WorkerExit = { exitCode, signal };
        if (isOutOfMemory) exit.reason = 'out of memory';
        else if (fatal instanceof Error) exit.reason = fatal.message;
        if (fatal !== undefined) exit.error = fatal;
        report(exit);
      }
    });

    return {
      post: (message, transfer) => {
        // A synchronous task cannot receive the message; the control thread hears this at once.
        if (message[0] === ToWorker.Cancel) control.write(cancelRecord(message[1]));
        post(child, message, transfer);
      },
      ref: () => {
        child.ref();
        child.channel?.ref();
        for (const pipe of pipes) pipe.ref();
      },
      unref: () => {
        // An idle child must not keep the parent alive: the process, its channel and its pipes
        // are each a handle of their own.
        child.unref();
        child.channel?.unref();
        for (const pipe of pipes) pipe.unref();
      },
      // Like Worker.terminate(): immediate and certain. Graceful shutdown (teardown) has already
      // happened when the pool asks for this, and a task module's own SIGTERM handler must not
      // be able to delay `destroy()`.
      terminate: () => void child.kill('SIGKILL'),
    };
  }
}

/**
 * Sends over the channel. Serialisation happens inside `send`, so a value it cannot encode (a
 * function) throws here, as `postMessage` would, and the pool names it; what a thread could
 * receive but a process cannot is refused first, by path. Transferred buffers are copied, then
 * detached here.
 */
function post(child: ChildProcess, message: MainMessage, transfer: readonly TransferListItem[]): void {
  // Arguments sit every third slot from 3: `[Run, id, name, args, id, name, args...]`, and
  // `[Stream, id, name, args, credit]` holds one set.
  if (message[0] === ToWorker.Run || message[0] === ToWorker.Stream) {
    refuseProcessLocal(message, 3, 3, 'args');
    refuseProcessLocal(carriedRequests(message), 0, 1, 'context');
  }
  refuseUnmovable(transfer, 'options.transfer', 'a child process');
  child.send(message);
  if (transfer.length > 0) detachTransferred(transfer);
}

/** The request contexts a run message carries: a task's name slot holds `[name, carried]` when it carries one. */
function carriedRequests(message: MainMessage): unknown[] {
  const requests: unknown[] = [];
  for (let i = 2; i < message.length; i += 3) {
    const address = message[i];
    if (Array.isArray(address)) requests.push((address[1] as { request?: unknown } | undefined)?.request);
  }
  return requests;
}

/** A cancelled task's id, as the control thread reads it. */
function cancelRecord(taskId: number): Buffer {
  const record = Buffer.allocUnsafe(4);
  record.writeInt32LE(taskId | 0);
  return record;
}

/** The child's stdout and stderr, which are sockets over pipes, so they can be (un)referenced. */
function pipesOf(child: ChildProcess): Socket[] {
  return [child.stdout, child.stderr].filter((pipe) => pipe != null) as Socket[];
}


/**
 * tsx's own loader, as `node --import tsx` uses it (ESM and CommonJS hooks), by absolute URL so
 * that it resolves whatever the worker's `cwd`. A process, unlike a thread, runs `--import`
 * before its entry, so no bootstrap is needed.
 */
function processLoader(moduleUrl: string): string | undefined {
  return typeScriptLoader(moduleUrl) === undefined ? undefined : resolveOnce('tsx');
}
