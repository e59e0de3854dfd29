/**
 * The package as users get it: `npm pack`'s tarball, installed into a fresh project that has only
 * its own dependencies (test/package/consumer). It must type-check (with the expected type errors),
 * run with compiled .js task modules and with a .ts one through tsx, answer the bin's --help and
 * load from CommonJS; every source map it ships must resolve. Then the tarball alone, with no
 * optional peer, is installed to measure what a user gets. publint and arethetypeswrong check the
 * same tarball first. `npm run test:package` (CI runs it).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'offload-package-'));

/** What the consumer installs beside the tarball: the optional peers it uses, and its own tools. */
const CONSUMER_DEPENDENCIES = [
  'fastify@^5',
  'express@^5',
  '@types/express@^5',
  'prom-client@^15',
  'bullmq@^6.7.0',
  'ioredis@^5',
  'typescript@~5.9',
  'tsx@^4',
  '@types/node@^20',
];

// The project's own environment only: no NODE_OPTIONS or test-runner state from whoever runs this.
const env = Object.fromEntries(
  Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, npm_config_cache: process.env.npm_config_cache }).filter(([, v]) => v !== undefined),
);

/** Runs a command that must succeed, and returns its stdout. */
function run(command: string, args: string[], cwd: string): string {
  const started = performance.now();
  process.stdout.write(`$ ${command} ${args.join(' ')}`);
  const output = execFileSync(command, args, { cwd, env, encoding: 'utf8' });
  console.log(`  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  return output;
}

/** Runs a command that must fail, and returns its exit code and stderr. */
function runFailing(command: string, args: string[], cwd: string): { status: number | null; stderr: string } {
  console.log(`$ ${command} ${args.join(' ')}  (must fail)`);
  const { status, stderr } = spawnSync(command, args, { cwd, env, encoding: 'utf8' });
  return { status, stderr };
}

const npmInstall = (cwd: string, packages: string[]): string =>
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...packages], cwd);

function pack(): { tarball: string; size: number; unpackedSize: number; entryCount: number } {
  const [report] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', scratch], root)) as [
    { filename: string; size: number; unpackedSize: number; entryCount: number },
  ];
  assert.ok(report !== undefined);
  return { tarball: join(scratch, report.filename), size: report.size, unpackedSize: report.unpackedSize, entryCount: report.entryCount };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((name) => join(dir, name));
}

/** Every .map the package ships points at sources that the package ships. */
function checkSourceMaps(installed: string): number {
  const maps = filesUnder(installed).filter((file) => file.endsWith('.map'));
  assert.ok(maps.length > 0, 'the package ships source maps');
  for (const map of maps) {
    const { sources, sourceRoot = '' } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[]; sourceRoot?: string };
    for (const source of sources) {
      const path = resolve(dirname(map), sourceRoot, source);
      assert.ok(statSync(path, { throwIfNoEntry: false })?.isFile(), `${map} points at ${source}, which the package does not ship`);
    }
  }
  return maps.length;
}

function directorySize(dir: string): number {
  return filesUnder(dir).reduce((total, file) => total + statSync(file).size, 0);
}

try {
  const { tarball, size, unpackedSize, entryCount } = pack();
  // The registries' checks, on this same tarball: ESM only, so attw skips the CommonJS and node10 resolutions.
  console.log(run('npx', ['publint', 'run', tarball, '--strict'], root));
  console.log(run('npx', ['attw', tarball, '--profile', 'esm-only'], root));

  const consumer = join(scratch, 'consumer');
  cpSync(fileURLToPath(new URL('./consumer', import.meta.url)), consumer, { recursive: true });
  const manifest = JSON.stringify({ name: 'consumer', private: true, type: 'module' });
  writeFileSync(join(consumer, 'package.json'), manifest);
  npmInstall(consumer, [tarball, ...CONSUMER_DEPENDENCIES]);

  run('npx', ['tsc', '--noEmit'], consumer);
  run('npx', ['tsc', '--noCheck'], consumer); // checked just above: only the emit is left
  assert.match(run('node', ['out/main.js'], consumer), /consumer ok \(js\)/);
  assert.match(run('node', ['--import', 'tsx', 'main.ts'], consumer), /consumer ok \(ts\)/);
  assert.match(run('npx', ['offload', '--help'], consumer), /^Usage: offload worker <task-module> --redis <url> --queue <name>/);
  assert.match(run('node', ['require.cjs'], consumer), /require ok/);
  const maps = checkSourceMaps(join(consumer, 'node_modules', 'offload'));

  const bare = join(scratch, 'bare');
  mkdirSync(bare);
  writeFileSync(join(bare, 'package.json'), manifest);
  npmInstall(bare, [tarball]);
  // The core and the bin's help need no optional peer; the worker says which one to install.
  writeFileSync(join(bare, 'tasks.js'), 'export const double = (n) => n * 2;\n');
  const core = "import { createPool } from 'offload'; const pool = createPool(new URL('./tasks.js', import.meta.url)); console.log(await pool.run('double', [21])); await pool.close();";
  assert.equal(run('node', ['--input-type=module', '-e', core], bare).trim(), '42');
  assert.match(run('npx', ['offload', '--help'], bare), /^Usage: offload worker/);
  const worker = runFailing('npx', ['offload', 'worker', 'tasks.js', '--redis', 'redis://127.0.0.1:1', '--queue', 'q'], bare);
  assert.equal(worker.status, 1, worker.stderr);
  assert.match(worker.stderr, /offload: the worker needs bullmq, an optional dependency: npm install bullmq ioredis/);
  const modules = join(bare, 'node_modules');
  const installed = readdirSync(modules).flatMap((name) => (name.startsWith('@') ? readdirSync(join(modules, name)).map((inner) => `${name}/${inner}`) : [name]));
  const packages = installed.filter((name) => !name.startsWith('.'));

  const kB = (bytes: number): string => `${(bytes / 1024).toFixed(0)} kB`;
  console.log(`
package ok: ${maps} source maps resolve
tarball: ${kB(size)} packed, ${kB(unpackedSize)} unpacked, ${entryCount} files
install without optional peers: ${packages.length} packages (${packages.join(', ')}), ${kB(directorySize(modules))} in node_modules`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
