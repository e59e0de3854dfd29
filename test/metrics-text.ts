/**
 * A strict reader of the Prometheus text exposition format, enough for the tests: every line is
 * a comment (`# HELP`, `# TYPE`) or a sample `name{label="value",...} number`, or it fails.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|\+Inf|-Inf|NaN))$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/g;

export function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const match = SAMPLE.exec(line);
    if (match === null) throw new SyntaxError(`not a Prometheus sample: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? '';
    let consumed = 0;
    for (const label of body.matchAll(LABEL)) {
      labels[label[1]!] = label[2]!;
      consumed += label[0].length;
    }
    if (consumed !== body.length) throw new SyntaxError(`bad labels: ${line}`);
    samples.push({ name: match[1]!, labels, value: Number(match[3]!.replace('Inf', 'Infinity')) });
  }
  return { samples, types };
}

/** The value of the one sample with this name and these labels (among others); undefined if none. */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}
