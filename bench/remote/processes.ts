/**
 * The remote benches' processes: a redis-server of their own on a free port, `offload worker` /
 * plain BullMQ worker processes, and producer processes started together.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

export type Kind = 'bullmq' | 'offload';
/** Who adds the jobs: plain BullMQ, plain BullMQ with an offload pool's job options, or an offload pool. */
export type ProducerKind = Kind | 'bullmq-offload-options';

const root = new URL('../..', import.meta.url).pathname;
const tasks = new URL('../tasks/remote.mjs', import.meta.url).pathname;
const producerScript = new URL('./producer.mjs', import.meta.url).pathname;
const bullmqWorkerScript = new URL('./bullmq-worker.mjs', import.meta.url).pathname;

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

async function readyLine(child: ChildProcess): Promise<void> {
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => line.includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready`)));
  });
  lines.close();
}

/**
 * Starts `count` worker processes serving `queue`. An offload worker runs the `cli.js` of the
 * tree `cli` names (default: this one's dist), so that an A/B run can pit two builds.
 */
export async function startWorkers(kind: Kind, url: string, queue: string, count: number, concurrency: number, cli = `${root}dist/cli.js`): Promise<ChildProcess[]> {
  const args =
    kind === 'offload'
      ? [cli, 'worker', tasks, '--redis', url, '--queue', queue, '--size', String(concurrency)]
      : [bullmqWorkerScript, url, queue, String(concurrency)];
  return Promise.all(Array.from({ length: count }, () => startProcess(args)));
}

/** Starts `node <args>` in the repository's root; resolves once it printed "ready". */
export async function startProcess(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  await readyLine(child);
  return child;
}

export async function stop(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }),
  );
}

/**
 * CPU time (ms, user + system) a process has used so far, all its threads, from
 * `/proc/<pid>/stat`; or only its main thread's with `mainThread`.
 */
export function cpuMs(pid: number, mainThread = false): number {
  const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

export interface Run {
  kind: ProducerKind;
  url: string;
  /** Several Redis servers, one pool each (offload only). */
  urls?: string[];
  queue: string;
  mode: 'latency' | 'throughput' | 'blob';
  count: number;
  window: number;
  size?: number;
}

/** Starts producer processes, lets them warm up, starts them together; resolves when all finished. */
export async function produce(run: Run, producers: number, beforeGo?: () => Promise<void>): Promise<{ wallMs: number; results: Array<Record<string, number>> }> {
  const children = Array.from({ length: producers }, () =>
    spawn(process.execPath, [producerScript, JSON.stringify(run)], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  await Promise.all(children.map(readyLine));
  await beforeGo?.();
  const began = performance.now();
  const results = await Promise.all(
    children.map(async (child) => {
      const lines = createInterface({ input: child.stdout! });
      const result = new Promise<Record<string, number>>((resolve) => lines.once('line', (line) => resolve(JSON.parse(line) as Record<string, number>)));
      child.stdin!.write('go\n');
      const value = await result;
      lines.close();
      return value;
    }),
  );
  const wallMs = performance.now() - began;
  await Promise.all(children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)));
  return { wallMs, results };
}

export async function startRedis(): Promise<{ url: string; pid: number; stop(): void }> {
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { url: `redis://127.0.0.1:${port}`, pid: server.pid!, stop: () => server.kill('SIGKILL') };
}
