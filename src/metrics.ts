/**
 * A minimal Prometheus registry. Hand-written because prom-client pulls in Node-only modules
 * (cluster, perf_hooks) that do not load in workerd; we need counters and gauges and nothing more.
 */
type Labels = Record<string, string>;

interface Series {
  help: string;
  type: 'counter' | 'gauge';
  values: Map<string, { labels: Labels; value: number }>;
  /** gauges computed at scrape time */
  collect?: () => Promise<Array<{ labels: Labels; value: number }>> | Array<{ labels: Labels; value: number }>;
}

const keyOf = (labels: Labels) =>
  Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export class Metrics {
  private readonly series = new Map<string, Series>();

  private get(name: string, type: Series['type'], help: string): Series {
    let s = this.series.get(name);
    if (!s) {
      s = { help, type, values: new Map() };
      this.series.set(name, s);
    }
    return s;
  }

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const s = this.get(name, 'counter', help);
    const k = keyOf(labels);
    const cur = s.values.get(k);
    if (cur) cur.value += by;
    else s.values.set(k, { labels, value: by });
  }

  set(name: string, help: string, labels: Labels, value: number): void {
    this.get(name, 'gauge', help).values.set(keyOf(labels), { labels, value });
  }

  /** Register a gauge whose values are read when /metrics is scraped. */
  collect(name: string, help: string, fn: NonNullable<Series['collect']>): void {
    this.get(name, 'gauge', help).collect = fn;
  }

  value(name: string, labels: Labels = {}): number {
    return this.series.get(name)?.values.get(keyOf(labels))?.value ?? 0;
  }

  async render(): Promise<string> {
    const out: string[] = [];
    for (const [name, s] of this.series) {
      let values = [...s.values.values()];
      if (s.collect) {
        try {
          values = values.concat(await s.collect());
        } catch {
          continue; // a collector whose source is down (database) is left out, not fatal
        }
      }
      out.push(`# HELP ${name} ${s.help}`, `# TYPE ${name} ${s.type}`);
      for (const { labels, value } of values) {
        const l = Object.entries(labels)
          .map(([k, v]) => `${k}="${escape(v)}"`)
          .join(',');
        out.push(`${name}${l ? `{${l}}` : ''} ${value}`);
      }
    }
    return `${out.join('\n')}\n`;
  }
}
