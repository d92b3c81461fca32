/**
 * A stacked bar chart as plain SVG markup: no script, no CDN, readable without JavaScript and
 * printable. Pure: values in, markup out.
 */

export interface ChartSeries {
  label: string;
  /** one value per category (x position), 0 for none */
  values: number[];
}

export interface StackedBarChartInput {
  title: string;
  /** x positions, e.g. dates YYYY-MM-DD */
  categories: string[];
  series: ChartSeries[];
  xLabel: string;
  yLabel: string;
  /** how an x position is printed under its bar (default: as is) */
  formatCategory?: (category: string) => string;
  /** highlighted x position (today) */
  highlight?: string;
  width?: number;
  height?: number;
  emptyText?: string;
}

/** Tableau 10: distinguishable for the common colour-vision deficiencies and in greyscale print. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export const colorFor = (index: number) => PALETTE[index % PALETTE.length]!;

export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

/** Round numbers for axis ticks: 1, 2, 2.5, 5 × 10^k. */
export function niceTicks(max: number, target = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / target;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= rough) ?? 10 * mag);
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 1e-9; v += step) ticks.push(round(v));
  if (ticks[ticks.length - 1]! < max - 1e-9) ticks.push(round(ticks[ticks.length - 1]! + step));
  return ticks;
}

const round = (v: number) => Math.round(v * 1e6) / 1e6;

export const formatNumber = (v: number) => {
  const r = Math.round(v * 100) / 100;
  return Number.isInteger(r) ? String(r) : r.toFixed(2).replace(/0+$/, '');
};

/** Rough text width for layout (CJK glyphs are about twice as wide as Latin ones). */
const textWidth = (s: string, px: number) => [...s].reduce((w, ch) => w + (ch.codePointAt(0)! > 0x2e80 ? px : px * 0.6), 0);

export function stackedBarChart(input: StackedBarChartInput): string {
  const width = input.width ?? 960;
  const fmtCat = input.formatCategory ?? ((c: string) => c);
  const n = input.categories.length;
  const font = 12;

  // Legend rows first: their count decides the height.
  const legendItems = input.series.map((s, i) => ({ label: s.label, color: colorFor(i), w: 18 + textWidth(s.label, font) + 20 }));
  const legendRows: Array<typeof legendItems> = [[]];
  let rowWidth = 0;
  const legendMax = width - 80;
  for (const item of legendItems) {
    if (rowWidth + item.w > legendMax && legendRows[legendRows.length - 1]!.length > 0) {
      legendRows.push([]);
      rowWidth = 0;
    }
    legendRows[legendRows.length - 1]!.push(item);
    rowWidth += item.w;
  }
  const legendHeight = legendItems.length ? legendRows.length * 20 + 8 : 0;

  const margin = { top: 22 + legendHeight, right: 16, bottom: 52, left: 60 };
  const plotH = (input.height ?? 300) - 16 - 52;
  const height = margin.top + plotH + margin.bottom;
  const plotW = width - margin.left - margin.right;

  const totals = input.categories.map((_, i) => input.series.reduce((acc, s) => acc + (s.values[i] ?? 0), 0));
  const max = Math.max(0, ...totals);
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1]!;
  const y = (v: number) => margin.top + plotH - (v / top) * plotH;
  const slot = n > 0 ? plotW / n : plotW;
  const barW = Math.max(1, Math.min(48, slot * 0.72));
  const labelEvery = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(plotW / 44))));

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-labelledby="chart-title" class="chart" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', sans-serif" font-size="${font}">`,
    `<title id="chart-title">${escapeXml(input.title)}</title>`,
  );

  // Legend
  legendRows.forEach((row, r) => {
    let x = margin.left;
    for (const item of row) {
      const ly = 12 + r * 20;
      parts.push(
        `<g class="legend-item"><rect x="${x}" y="${ly - 10}" width="12" height="12" rx="2" fill="${item.color}"/>` +
          `<text x="${x + 18}" y="${ly}" fill="#334155">${escapeXml(item.label)}</text></g>`,
      );
      x += item.w;
    }
  });

  // Grid and y axis
  for (const t of ticks) {
    const ty = y(t);
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${ty}" y2="${ty}" stroke="${t === 0 ? '#94a3b8' : '#e2e8f0'}" stroke-width="1"/>`,
      `<text x="${margin.left - 8}" y="${ty + 4}" text-anchor="end" fill="#64748b">${formatNumber(t)}</text>`,
    );
  }
  parts.push(
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#334155" font-weight="600">${escapeXml(input.yLabel)}</text>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 8}" text-anchor="middle" fill="#334155" font-weight="600">${escapeXml(input.xLabel)}</text>`,
  );

  // Bars
  input.categories.forEach((cat, i) => {
    const cx = margin.left + slot * i + slot / 2;
    if (cat === input.highlight) {
      parts.push(
        `<rect class="today" x="${round(margin.left + slot * i)}" y="${margin.top}" width="${round(slot)}" height="${plotH}" fill="#fde68a" opacity="0.45"/>`,
        `<text x="${round(cx)}" y="${margin.top - 4}" text-anchor="middle" fill="#b45309" font-size="11" font-weight="600">today</text>`,
      );
    }
    let acc = 0;
    input.series.forEach((s, si) => {
      const v = s.values[i] ?? 0;
      if (v <= 0) return;
      const y0 = y(acc);
      const y1 = y(acc + v);
      acc += v;
      parts.push(
        `<rect class="bar" x="${round(cx - barW / 2)}" y="${round(y1)}" width="${round(barW)}" height="${round(Math.max(0.5, y0 - y1))}" fill="${colorFor(si)}" data-category="${escapeXml(cat)}" data-series="${escapeXml(s.label)}" data-value="${formatNumber(v)}">` +
          `<title>${escapeXml(`${fmtCat(cat)} · ${s.label}: ${formatNumber(v)}`)}</title></rect>`,
      );
    });
    if (i % labelEvery === 0) {
      parts.push(
        `<text x="${round(cx)}" y="${margin.top + plotH + 18}" text-anchor="middle" fill="${cat === input.highlight ? '#b45309' : '#64748b'}"${cat === input.highlight ? ' font-weight="700"' : ''}>${escapeXml(fmtCat(cat))}</text>`,
      );
    }
  });

  if (max === 0) {
    parts.push(
      `<text x="${margin.left + plotW / 2}" y="${margin.top + plotH / 2}" text-anchor="middle" fill="#94a3b8" font-size="14">${escapeXml(input.emptyText ?? 'No data')}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}
