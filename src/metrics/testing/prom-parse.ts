// A strict parser of the Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats), for tests: throws on anything the format does not allow.
//
// Checked: line grammar (HELP, TYPE, comments, samples with optional timestamp), metric and label
// name syntax, label value escapes (only \\ \" \n), float values (NaN, +Inf, -Inf), one TYPE and
// one HELP per family and before its samples, a family's samples contiguous, no duplicate series,
// sample names that fit the family's type (counter/gauge: the name; histogram: _bucket with le,
// _sum, _count; cumulative buckets ending in +Inf equal to _count), counters not negative, a final
// line feed.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string | null;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string, line: number): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`line ${line}: bad value '${s}'`);
  return Number(s);
}

function parseLabels(s: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  for (;;) {
    while (s[i] === ' ') i++;
    if (s[i] === '}') return { labels, rest: s.slice(i + 1) };
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i));
    if (m === null) throw new Error(`line ${line}: bad label name at '${s.slice(i)}'`);
    const name = m[0];
    if (name in labels) throw new Error(`line ${line}: label ${name} twice`);
    i += name.length;
    if (s[i] !== '=' || s[i + 1] !== '"') throw new Error(`line ${line}: expected =" after ${name}`);
    i += 2;
    let v = '';
    for (;;) {
      const c = s[i];
      if (c === undefined) throw new Error(`line ${line}: unterminated label value`);
      if (c === '"') break;
      if (c === '\\') {
        const n = s[i + 1];
        if (n === '\\') v += '\\';
        else if (n === '"') v += '"';
        else if (n === 'n') v += '\n';
        else throw new Error(`line ${line}: bad escape \\${n ?? ''}`);
        i += 2;
        continue;
      }
      v += c;
      i++;
    }
    labels[name] = v;
    i++;
    while (s[i] === ' ') i++;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') throw new Error(`line ${line}: expected , or } after label ${name}`);
  }
}

/** The family a sample name belongs to, given the declared families. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name);
  if (direct !== undefined) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const f = families.get(name.slice(0, -suffix.length));
      if (f !== undefined && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
    }
  }
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the text must end with a line feed');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const series = new Set<string>();
  const typed = new Set<string>();
  let current: Family | null = null;
  const lines = text.split('\n');
  lines.pop();
  const declare = (name: string, lineNo: number): Family => {
    if (!METRIC_NAME.test(name)) throw new Error(`line ${lineNo}: bad metric name ${name}`);
    let f = families.get(name);
    if (f === undefined) {
      f = { name, type: 'untyped', help: null, samples: [] };
      families.set(name, f);
    }
    if (closed.has(name) || f.samples.length > 0) throw new Error(`line ${lineNo}: ${name} declared after its samples or again later`);
    if (current !== null && current !== f) closed.add(current.name);
    current = f;
    return f;
  };
  lines.forEach((raw, idx) => {
    const n = idx + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(raw);
      if (m === null) return; // a plain comment
      const f = declare(m[2]!, n);
      if (m[1] === 'HELP') {
        if (f.help !== null) throw new Error(`line ${n}: second HELP for ${f.name}`);
        const h = m[3] ?? '';
        if (/\\[^\\n]/.test(h.replace(/\\\\/g, ''))) throw new Error(`line ${n}: bad escape in HELP`);
        f.help = h.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      } else {
        if (typed.has(f.name)) throw new Error(`line ${n}: second TYPE for ${f.name}`);
        const t = (m[3] ?? '').trim();
        if (!TYPES.has(t)) throw new Error(`line ${n}: unknown type '${t}'`);
        f.type = t;
        typed.add(f.name);
      }
      return;
    }
    const nm = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
    if (nm === null) throw new Error(`line ${n}: bad sample line '${raw}'`);
    const name = nm[0];
    let rest = raw.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, n));
    const parts = rest.trim().split(/\s+/);
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2) throw new Error(`line ${n}: expected ' value [timestamp]' in '${raw}'`);
    const value = parseValue(parts[0]!, n);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1]!)) throw new Error(`line ${n}: bad timestamp '${parts[1]}'`);
    for (const k of Object.keys(labels)) if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new Error(`line ${n}: reserved label ${k}`);
    let f = familyOf(name, families);
    if (f === undefined) f = declare(name, n);
    if (closed.has(f.name) || (current !== null && current !== f)) throw new Error(`line ${n}: samples of ${f.name} are not together`);
    current = f;
    if (f.type === 'counter' || f.type === 'gauge') {
      if (name !== f.name) throw new Error(`line ${n}: ${name} in ${f.type} family ${f.name}`);
    }
    if (f.type === 'counter' && !(value >= 0)) throw new Error(`line ${n}: counter ${name} is ${value}`);
    if (f.type === 'histogram') {
      if (name === `${f.name}_bucket`) {
        if (labels['le'] === undefined) throw new Error(`line ${n}: bucket without le`);
        parseValue(labels['le'], n);
      } else if (name !== `${f.name}_sum` && name !== `${f.name}_count`) throw new Error(`line ${n}: ${name} in histogram ${f.name}`);
    }
    const key = `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
    if (series.has(key)) throw new Error(`line ${n}: duplicate series ${key}`);
    series.add(key);
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name.endsWith('_bucket')) g.buckets.push([parseValue(le!, 0), s.value]);
    if (s.name.endsWith('_count')) g.count = s.value;
  }
  for (const g of groups.values()) {
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i]![0] > g.buckets[i - 1]![0])) throw new Error(`${f.name}: buckets not in ascending le order`);
      if (g.buckets[i]![1] < g.buckets[i - 1]![1]) throw new Error(`${f.name}: buckets not cumulative`);
    }
    const last = g.buckets[g.buckets.length - 1];
    if (last === undefined || last[0] !== Infinity) throw new Error(`${f.name}: no +Inf bucket`);
    if (g.count !== last[1]) throw new Error(`${f.name}: _count ${g.count} != +Inf bucket ${last[1]}`);
  }
}

/** The value of the one sample of `family` whose labels include `labels`; throws unless exactly one matches. */
export function valueOf(families: Map<string, Family>, family: string, labels: Record<string, string> = {}, name = family): number {
  const f = families.get(family);
  if (f === undefined) throw new Error(`no family ${family}`);
  const m = f.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (m.length !== 1) throw new Error(`${m.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return m[0]!.value;
}
