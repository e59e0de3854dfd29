/**
 * The demo's point, measured: saturate a heavy endpoint and, at the same time, measure `/health`,
 * first with the work offloaded to the pool, then with the same work inline on the main thread.
 * Prints /health p50 and p99 for both and the ratio. `npm run bench:http`.
 *
 *   --job hash|image|report   the heavy endpoint (default hash)
 *   --duration 10             seconds of load per mode
 *   --connections 8           concurrent connections on the heavy endpoint
 *
 * The server runs in its own process (`npm start`'s entry), so the load generator never shares
 * its event loop. Traffic stays on 127.0.0.1, bounded by the duration.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, get } from 'node:http';
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';

const { values } = parseArgs({
  options: {
    job: { type: 'string', default: 'hash' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '8' },
  },
});
const job = values.job;
if (!['hash', 'image', 'report'].includes(job)) throw new RangeError(`--job must be hash, image or report (got ${job})`);
const duration = Number(values.duration);
const connections = Number(values.connections);
if (!(duration > 0 && duration <= 120)) throw new RangeError('--duration must be between 1 and 120 seconds');
if (!(Number.isInteger(connections) && connections >= 1 && connections <= 256)) throw new RangeError('--connections must be 1 to 256');

interface Probe {
  count: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
}

interface ModeResult {
  mode: 'offloaded' | 'inline';
  heavy: Result;
  health: Probe;
}

async function startServer(): Promise<{ base: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/server.ts'], {
    cwd: new URL('..', import.meta.url),
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const port = /127\.0\.0\.1:(\d+)/.exec(line.toString())?.[1];
  if (port === undefined) throw new Error(`the demo server did not start: ${line.toString()}`);
  return {
    base: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** Saturates the heavy endpoint with autocannon for `duration` seconds. */
function saturate(url: string): Promise<Result> {
  // Generous timeout: inline, requests legitimately queue for seconds, and that is the result.
  return autocannon({ url, connections, duration, timeout: 60 });
}

/**
 * One client probing /health back to back on a kept-alive connection. Timed here rather than by
 * autocannon, whose latencies are whole milliseconds: the offloaded numbers live below one.
 */
async function probe(url: string, until: number): Promise<Probe> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  try {
    while (performance.now() < until) {
      const start = performance.now();
      await new Promise<void>((resolve, reject) => {
        get(url, { agent }, (response) => {
          response.resume();
          response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`/health answered ${response.statusCode}`))));
        }).on('error', reject);
      });
      times.push(performance.now() - start);
    }
  } finally {
    agent.destroy();
  }
  times.sort((a, b) => a - b);
  const at = (p: number): number => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))] ?? Number.NaN;
  return { count: times.length, p50: at(50), p99: at(99), max: times[times.length - 1] ?? Number.NaN };
}

async function measure(base: string, mode: ModeResult['mode']): Promise<ModeResult> {
  const heavyUrl = `${base}/${job}?inline=${mode === 'inline' ? 1 : 0}`;
  for (let i = 0; i < 4; i++) await (await fetch(heavyUrl)).arrayBuffer(); // warm up both paths
  const [heavy, health] = await Promise.all([saturate(heavyUrl), probe(`${base}/health`, performance.now() + duration * 1000)]);
  return { mode, heavy, health };
}

function ms(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms`;
}

function row(result: ModeResult): string {
  const { heavy, health } = result;
  const cells = [
    result.mode.padEnd(9),
    `${heavy.requests.total}`.padStart(6),
    heavy.requests.average.toFixed(1).padStart(7),
    `${health.count}`.padStart(7),
    ms(health.p50).padStart(11),
    ms(health.p99).padStart(11),
    ms(health.max).padStart(11),
    `${heavy.errors + heavy.timeouts + heavy.non2xx}`.padStart(7),
  ];
  return cells.join('  ');
}

const server = await startServer();
try {
  console.log(`/${job} saturated with ${connections} connections for ${duration} s per mode; one client probing /health meanwhile.`);
  const offloaded = await measure(server.base, 'offloaded');
  const inline = await measure(server.base, 'inline');
  console.log();
  console.log('mode        heavy  heavy/s   /health  /health p50  /health p99  /health max  heavy errors');
  console.log(row(offloaded));
  console.log(row(inline));
  for (const key of ['p50', 'p99'] as const) {
    const ratio = Math.round(inline.health[key] / offloaded.health[key]);
    console.log(`/health ${key}: ${ms(offloaded.health[key])} offloaded vs ${ms(inline.health[key])} inline: ${ratio}x`);
  }
} finally {
  await server.stop();
}
