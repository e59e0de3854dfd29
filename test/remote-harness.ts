/**
 * Real Redis and real worker processes for the remote executor's tests. Each test process starts
 * its own `redis-server` on a free port of 127.0.0.1 (no persistence) when it first needs one,
 * and each remote pool gets its own queue and its own worker process, started with the worker
 * options that match the pool's (as a deployment would), so no state leaks between pools.
 * Everything started here is killed when the test process exits.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import type { PoolOptions } from '../src/index.js';
import { redisServer } from './requirements.js';

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A free TCP port on 127.0.0.1, found synchronously (pools are created synchronously). */
export function freePortSync(): number {
  const script = "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})";
  return Number(execFileSync(process.execPath, ['-e', script]).toString().trim());
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops it (SIGKILL: no chance to save; it saves nothing anyway). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): void;
  /** Freezes it (SIGSTOP): connections stay open and nothing answers, like a hung server or a partition. */
  freeze(): void;
  /** Lets a frozen server go on (SIGCONT). */
  thaw(): void;
}

/** Starts a redis-server (found by requirements.ts; suites that need one check it first) and waits until it answers. */
export function startRedisServer(port = freePortSync()): RedisServer {
  const binary = redisServer.path;
  if (binary === undefined) throw new Error(`no redis-server: ${redisServer.missing}`);
  let child: ChildProcess | undefined;
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    start() {
      child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      children.add(child);
      child.unref();
      waitForPing(port);
    },
    freeze() {
      child?.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
    async stop() {
      if (child === undefined || child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.ref(); // whoever awaits the exit keeps this process alive until it comes
      child.kill('SIGKILL');
      await exited;
      children.delete(child);
    },
  };
  server.start();
  return server;
}

/** Waits until a PING on the port gets PONG: one Node process polls, so no redis-cli is needed. */
function waitForPing(port: number): void {
  const script = `const net = require('net'); const deadline = Date.now() + 10000;
    (function ping() {
      const socket = net.connect(${port}, '127.0.0.1', () => socket.write('PING\\r\\n'));
      const retry = () => (Date.now() > deadline ? process.exit(1) : setTimeout(ping, 20));
      socket.on('data', (data) => (String(data).startsWith('+PONG') ? process.exit(0) : (socket.destroy(), retry())));
      socket.on('error', retry);
    })();`;
  if (spawnSync(process.execPath, ['-e', script]).status !== 0) throw new Error(`redis-server did not start on port ${port}`);
}

let shared: RedisServer | undefined;

/** This test process's Redis, started on first use. */
export function sharedRedis(): RedisServer {
  shared ??= startRedisServer();
  return shared;
}

export interface WorkerProcessOptions {
  size?: number;
  cancelGracePeriod?: number;
  maxTasksPerWorker?: number;
  lockDuration?: number;
  stalledInterval?: number;
  maxStalledCount?: number;
  prefix?: string;
  maxPayloadBytes?: number;
  /** The worker process's V8 old-space limit (`--max-old-space-size`), in MB. */
  maxOldSpaceSizeMb?: number;
  /** Modules the worker process imports before it starts (`--import`), such as an OpenTelemetry setup. */
  imports?: URL[];
  /** Variables added to the worker process's environment. */
  env?: Record<string, string>;
  /** How long a stream waiting for credit waits for a silent caller (the library's 15 s otherwise). */
  streamSilenceMs?: number;
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Resolves once the worker serves the queue (its module loaded). */
  readonly ready: Promise<void>;
  /** Lines the worker printed on stderr. */
  readonly errors: string[];
  /** SIGTERM, then waits for its exit code. */
  stop(): Promise<number | null>;
}

const WORKER_ENTRY = new URL('./fixtures/remote-worker.ts', import.meta.url).pathname;

/** Starts a worker process serving `queue` with the task module `moduleUrl`. */
export function startWorkerProcess(moduleUrl: URL, redisUrl: string, queue: string, options: WorkerProcessOptions = {}): WorkerProcess {
  const { maxOldSpaceSizeMb, imports = [], env, ...workerOptions } = options;
  const heap = maxOldSpaceSizeMb === undefined ? [] : [`--max-old-space-size=${maxOldSpaceSizeMb}`];
  const preloads = imports.flatMap((url) => ['--import', url.href]);
  const child = spawn(process.execPath, [...heap, '--import', 'tsx', ...preloads, WORKER_ENTRY, JSON.stringify({ module: moduleUrl.href, redisUrl, queue, ...workerOptions })], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: env === undefined ? process.env : { ...process.env, ...env },
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  // Never keep the test process alive: the worker ends when its stdin closes, with this process.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref(): void }).unref();
  const errors: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => errors.push(line));
  // Until the worker is ready, this process stays alive for whoever awaits it; nothing else would.
  const alive = setInterval(() => {}, 1000);
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') resolve();
    });
    child.once('exit', (code) => reject(new Error(`the worker exited with ${code} before it was ready: ${errors.join('\n')}`)));
  }).finally(() => clearInterval(alive));
  ready.catch(() => {});
  return {
    child,
    ready,
    errors,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = once(child, 'exit') as Promise<[number | null]>;
      child.ref(); // whoever awaits the exit keeps this process alive until it comes
      child.kill('SIGTERM');
      return (await exited)[0];
    },
  };
}

let queues = 0;

/**
 * The options of a remote pool on a fixture module, served by a worker process of its own,
 * started with the worker-side options the pool's options imply (its size, grace period and
 * recycling). Local-only options go to the worker, as they would in a deployment; the pool's
 * size becomes its `maxInFlight`.
 */
export function remotePoolOptions(moduleUrl: URL, options: PoolOptions): { options: PoolOptions; start(): WorkerProcess } {
  const { resourceLimits: _limits, env: _env, execArgv: _argv, maxTasksPerWorker, size: _size, maxSize: _maxSize, minSize: _minSize, ...producer } = options;
  const redis = sharedRedis();
  const queue = `test-${process.pid}-${++queues}`;
  const size = options.maxSize ?? options.size ?? availableParallelism();
  return {
    // The shared suites' pool sizes bound what is in flight, as they bound a local pool's work.
    options: { ...producer, executor: 'remote', connection: redis.url, queue, maxInFlight: size },
    start: () =>
      startWorkerProcess(moduleUrl, redis.url, queue, {
        size,
        cancelGracePeriod: options.cancelGracePeriod,
        maxTasksPerWorker: maxTasksPerWorker === Infinity ? undefined : maxTasksPerWorker,
      }),
  };
}

/** Resolves once `condition` holds, polling every 20 ms; rejects after `timeout` ms. */
export function until(condition: () => Promise<boolean> | boolean, timeout = 20_000): Promise<void> {
  const deadline = Date.now() + timeout;
  return new Promise((resolve, reject) => {
    const poll = async (): Promise<void> => {
      if (await condition()) resolve();
      else if (Date.now() > deadline) reject(new Error('timed out waiting'));
      else setTimeout(() => void poll(), 20);
    };
    void poll();
  });
}

/**
 * Every command Redis runs, from `MONITOR` on a plain socket. ioredis's `monitor()` is not used:
 * it enters monitoring mode a microtask after MONITOR's `+OK`, so on a busy Redis a command that
 * arrives in the same packet as the `+OK` fails its connection ("Command queue state error").
 */
export async function watchCommands(url: string, onCommand: (args: string[]) => void): Promise<{ close(): void }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.setEncoding('utf8');
  let pending = '';
  let monitoring!: () => void;
  const started = new Promise<void>((resolve) => (monitoring = resolve));
  socket.on('data', (chunk: string) => {
    pending += chunk;
    for (let end = pending.indexOf('\r\n'); end >= 0; end = pending.indexOf('\r\n')) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 2);
      if (line === '+OK') monitoring();
      // `+1796134128.208999 [0 127.0.0.1:34168] "pexpire" "key" "60000"`
      const command = line.startsWith('+') ? line.indexOf('] "') : -1;
      if (command < 0) continue;
      onCommand([...line.slice(command + 2).matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]!));
    }
  });
  await once(socket, 'connect');
  socket.write('MONITOR\r\n');
  await Promise.race([started, once(socket, 'error').then(([error]) => Promise.reject(error as Error))]);
  return { close: () => socket.destroy() };
}
