/** Where and with what a run happened: recorded with every result so runs can be compared. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os';
import { PEER_NAMES } from './adapters/adapter.js';

/** The repository root; this code runs compiled, from bench/build/. */
export const REPOSITORY = new URL('../../', import.meta.url);

export interface Environment {
  date: string;
  node: string;
  os: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  /** offload's version and the commit measured; `+changes` when src/ differs from it. */
  offload: string;
  peers: Record<string, string>;
  loadAverage: string;
}

export function describeEnvironment(): Environment {
  const processors = cpus();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    node: process.version,
    os: `${type()} ${release()}`,
    cpu: processors[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    offload: `${versionOf('.')} (${commit()})`,
    peers: Object.fromEntries(PEER_NAMES.map((name) => [name, versionOf(`node_modules/${name}`)])),
    loadAverage: currentLoad(),
  };
}

/** The 1/5/15-minute load averages: on a shared machine they say how much noise a run had. */
export function currentLoad(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(' / ');
}

function versionOf(directory: string): string {
  const manifest = JSON.parse(readFileSync(new URL(`${directory}/package.json`, REPOSITORY), 'utf8')) as { version: string };
  return manifest.version;
}

function commit(): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: REPOSITORY, encoding: 'utf8' }).trim();
    const changed = git('status', '--porcelain', '--', 'src') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${changed ? '+changes' : ''}`;
  } catch {
    return 'commit unknown';
  }
}
