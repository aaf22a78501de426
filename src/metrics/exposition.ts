// Prometheus text exposition format 0.0.4 writer: families with HELP and TYPE, then their samples (prometheus.io/docs/instrumenting/exposition_formats).
//
// Metric and label names follow the data model's rules ([a-zA-Z_:][a-zA-Z0-9_:]* and
// [a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix): a name outside them is a programming error and throws.
// Label values escape backslash, double quote and line feed; HELP text escapes backslash and line
// feed. Every family is written once, all its samples together, as the format requires.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'untyped';
export type Labels = Readonly<Record<string, string | number>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  const parts: string[] = [];
  for (const k of keys) {
    if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new Error(`bad label name ${k}`);
    parts.push(`${k}="${escapeLabelValue(String(labels[k]))}"`);
  }
  return `{${parts.join(',')}}`;
}

/** Accumulates families; `text()` is the body of a scrape. */
export class Exposition {
  private out = '';
  private readonly seen = new Set<string>();

  /** Starts family `name`; the samples that follow belong to it. */
  family(name: string, type: MetricType, help: string): this {
    if (!METRIC_NAME.test(name)) throw new Error(`bad metric name ${name}`);
    if (this.seen.has(name)) throw new Error(`metric family ${name} written twice`);
    this.seen.add(name);
    this.out += `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
    return this;
  }

  /** One sample; `name` is the family's name, or for a histogram NAME_bucket / NAME_sum / NAME_count. */
  sample(name: string, labels: Labels, value: number): this {
    this.out += `${name}${labelText(labels)} ${formatValue(value)}\n`;
    return this;
  }

  /** A histogram's samples from cumulative bucket counts (`bounds[i]` upper bounds, ascending; `counts` has one more entry, for +Inf). */
  histogram(name: string, labels: Labels, bounds: ArrayLike<number>, counts: ArrayLike<number>, sum: number): this {
    let acc = 0;
    for (let i = 0; i < bounds.length; i++) {
      acc += counts[i]!;
      this.sample(`${name}_bucket`, { ...labels, le: formatValue(bounds[i]!) }, acc);
    }
    acc += counts[bounds.length]!;
    this.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, acc);
    this.sample(`${name}_sum`, labels, sum);
    return this.sample(`${name}_count`, labels, acc);
  }

  text(): string {
    return this.out;
  }
}
