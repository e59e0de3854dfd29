/** Turns the rounds' metrics into medians, ratios and targets, as a Markdown section. */
import { PEER_NAMES, type PoolName } from './adapters/adapter.js';
import type { Environment } from './environment.js';
import { MEASURES, type Measure } from './measures.js';
import { SAMPLES_PER_ROUND, type ScenarioName } from './scenarios/index.js';
import type { Metrics } from './scenarios/scenario.js';
import { median } from './stats.js';

/** Every round's metrics, per scenario and pool; `undefined` where a child failed. */
export type Results = Map<ScenarioName, Map<PoolName, Array<Metrics | undefined>>>;

export interface RunSettings {
  mode: 'full' | 'quick';
  rounds: number;
  measureMs: number;
  pools: readonly PoolName[];
  /** `--cpu N`: every process ran pinned to that one core. */
  cpu?: number | undefined;
}

interface Row {
  measure: Measure;
  medians: Map<PoolName, number>;
  bestPeer: PoolName | undefined;
  versusBestPeer: number;
  versusRaw: number;
  isMet: boolean | undefined;
}

export function renderReport(results: Results, settings: RunSettings, started: Environment, endLoad: string): string {
  // Only the scenarios this run included (`--scenarios` may pick a few).
  const measures = MEASURES.filter((measure) => results.has(measure.scenario));
  const rows = measures.map((measure) => summarise(measure, results, settings.pools));
  const peers = Object.entries(started.peers).map(([name, version]) => `${name} ${version}`).join(', ');
  return [
    `## ${started.date} — ${settings.mode} run${settings.cpu === undefined ? '' : `, pinned to CPU ${settings.cpu}`}`,
    '',
    `- Node ${started.node}, ${started.os}; ${started.cpu}, ${started.cores} cores; ${started.memoryGiB} GiB`,
    `- offload ${started.offload}; ${peers}`,
    `- ${settings.rounds} rounds, medians shown; every pool × scenario in a fresh process, pool order rotated each round; ` +
      `${settings.measureMs} ms per steady-state measurement` +
      Object.entries(SAMPLES_PER_ROUND)
        .filter(([scenario]) => results.has(scenario as ScenarioName))
        .map(([scenario, samples]) => `; ${scenario}: ${samples} fresh processes per pool and round, interleaved`)
        .join(''),
    `- Load average (1/5/15 min) at start ${started.loadAverage}, at end ${endLoad}`,
    ...(settings.cpu === undefined
      ? []
      : [
          `- Every process pinned to CPU ${settings.cpu} (\`--cpu ${settings.cpu}\`, taskset): its threads share one core, so a wake-up is a ` +
            'context switch instead of a cross-core wake-up; scaling, throughput and seed rows mean nothing here',
        ]),
    '',
    table(rows, settings.pools),
    '',
    targetSummary(rows),
    '',
    '<details><summary>Every round (in round order)</summary>',
    '',
    roundsTable(measures, results, settings.pools),
    '',
    '</details>',
    '',
  ].join('\n');
}

function summarise(measure: Measure, results: Results, pools: readonly PoolName[]): Row {
  const medians = new Map<PoolName, number>();
  for (const pool of pools) medians.set(pool, median(roundValues(results, measure, pool)));
  const bestPeer = pickBest(measure, PEER_NAMES.filter((peer) => Number.isFinite(medians.get(peer))), medians);
  const offload = medians.get('offload') ?? Number.NaN;
  const compared = {
    offload,
    bestPeer: bestPeer === undefined ? Number.NaN : medians.get(bestPeer)!,
    raw: medians.get('raw') ?? Number.NaN,
    rawMedian: (metric: string) => rawMedianOf(results, metric),
  };
  const isComparable = [compared.offload, compared.bestPeer, compared.raw].every(Number.isFinite);
  return {
    measure,
    medians,
    bestPeer,
    versusBestPeer: offload / compared.bestPeer,
    versusRaw: offload / compared.raw,
    isMet: measure.target && isComparable ? measure.target.isMet(compared) : undefined,
  };
}

/** The raw column's median of any metric of the run, wherever its scenario is. */
function rawMedianOf(results: Results, metric: string): number {
  const measure = MEASURES.find((candidate) => candidate.metric === metric);
  return measure === undefined ? Number.NaN : median(roundValues(results, measure, 'raw'));
}

function roundValues(results: Results, measure: Measure, pool: PoolName): number[] {
  const rounds = results.get(measure.scenario)?.get(pool) ?? [];
  return rounds.map((metrics) => metrics?.[measure.metric] ?? Number.NaN);
}

function pickBest(measure: Measure, candidates: readonly PoolName[], medians: Map<PoolName, number>): PoolName | undefined {
  const sign = measure.better === 'higher' ? 1 : -1;
  let best: PoolName | undefined;
  for (const candidate of candidates) {
    if (best === undefined || sign * (medians.get(candidate)! - medians.get(best)!) > 0) best = candidate;
  }
  return best;
}

function table(rows: readonly Row[], pools: readonly PoolName[]): string {
  const header = ['Measure', 'unit', ...pools, 'best peer', 'offload ÷ best peer', 'offload ÷ raw', 'target', 'met'];
  const lines = rows.map(({ measure, medians, bestPeer, versusBestPeer, versusRaw, isMet }) => [
    `${measure.label} (${measure.better} is better)`,
    measure.unit,
    ...pools.map((pool) => format(medians.get(pool), measure.digits)),
    bestPeer ?? '—',
    ratio(versusBestPeer),
    ratio(versusRaw),
    measure.target?.text ?? '',
    isMet === undefined ? '' : isMet ? 'yes' : '**no**',
  ]);
  return markdownTable(header, lines, 2);
}

function targetSummary(rows: readonly Row[]): string {
  const targeted = rows.filter((row) => row.measure.target !== undefined);
  const met = targeted.filter((row) => row.isMet === true).length;
  const lines = targeted.map(({ measure, medians, bestPeer, versusBestPeer, versusRaw, isMet }) => {
    const offload = `${format(medians.get('offload'), measure.digits)} ${measure.unit}`;
    const peer = bestPeer === undefined ? 'no peer' : `${bestPeer} ${format(medians.get(bestPeer), measure.digits)}`;
    const raw = `raw ${format(medians.get('raw'), measure.digits)}`;
    const verdict = isMet === undefined ? 'not measured' : isMet ? 'met' : '**not met**';
    return `- ${measure.label}, target ${measure.target!.text}: ${verdict} — offload ${offload}; best peer ${peer} ` +
      `(×${ratio(versusBestPeer)}); ${raw} (×${ratio(versusRaw)})`;
  });
  return [`Targets: ${met} of ${targeted.length} met.`, '', ...lines].join('\n');
}

function roundsTable(measures: readonly Measure[], results: Results, pools: readonly PoolName[]): string {
  const lines = measures.map((measure) => [
    `${measure.label} (${measure.unit})`,
    ...pools.map((pool) => roundValues(results, measure, pool).map((value) => format(value, measure.digits)).join(' · ')),
  ]);
  return markdownTable(['Measure', ...pools], lines, 1);
}

/** A Markdown table whose columns from `firstNumeric` on are right-aligned. */
function markdownTable(header: readonly string[], lines: readonly string[][], firstNumeric: number): string {
  const rule = header.map((_, column) => (column >= firstNumeric ? '---:' : '---'));
  return [header, rule, ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function format(value: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : '—';
}
