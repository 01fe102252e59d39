/**
 * Charts as PNG: a neutral `Chart` becomes a Vega-Lite spec, Vega lays it out as SVG (no browser,
 * no canvas) and resvg rasterises it with the bundled font only, so the same chart gives the same
 * pixels on every machine.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Chart } from '../core/result.ts';

/** The plot area and the margins around it, in pixels: tests find the threshold line from these. */
export const CHART_LAYOUT = { width: 600, height: 240, padding: { left: 64, right: 24, top: 64, bottom: 56 } } as const;
/** Slack shows images up to a phone's width; at 1× every text is at least this size. */
const FONT_SIZE = 13;
const FONT_FAMILY = 'DejaVu Sans';
/** Images bigger than this are slow on a phone's connection; a chart never needs more. */
export const MAX_CHART_BYTES = 200 * 1024;

/**
 * Okabe–Ito: told apart with every common colour-vision deficiency. Orange comes last among the
 * lines: it is the closest to the threshold's vermilion.
 */
export const PALETTE = { series: ['#0072B2', '#009E73', '#CC79A7', '#56B4E9', '#E69F00'], alarm: '#D55E00', marker: '#333333' } as const;

const FONT_FILE = findFont('DejaVuSans.ttf');

/** fonts/ at the repository root, from src/render or from dist/src/render. */
function findFont(name: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'fonts', name);
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return path.join(process.cwd(), 'fonts', name);
}

/** 1, 2 or 5 times a power of ten: the top of the y axis, with room above the highest value. */
function niceCeil(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** The y axis runs from 0 to this: the highest value or threshold plus a tenth, rounded up. */
export function chartTop(chart: Chart): number {
  const values = chart.series.flatMap((s) => s.points.map((p) => p.value));
  return niceCeil(Math.max(0, ...values, chart.threshold?.value ?? 0) * 1.1);
}

export function chartSpec(chart: Chart): TopLevelSpec {
  const { width, height, padding } = CHART_LAYOUT;
  const top = chartTop(chart);
  const names = chart.series.map((s) => s.name);
  const times = [...chart.series.flatMap((s) => s.points.map((p) => p.at)), ...(chart.markers ?? []).map((m) => m.at)];
  // A rollout of a few minutes needs seconds on its axis; an hour of 429s does not.
  const short = Math.max(...times) - Math.min(...times) < 10 * 60_000;
  const x = { field: 'at', type: 'temporal' as const, title: 'UTC', axis: { format: short ? '%H:%M:%S' : '%H:%M' } };
  const timeScale = { type: 'utc' as const };
  const layers: object[] = [
    {
      data: { values: chart.series.flatMap((s) => s.points.map((p) => ({ at: p.at, value: p.value, series: s.name }))) },
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: { ...x, scale: timeScale },
        y: { field: 'value', type: 'quantitative', title: chart.yTitle, scale: { domain: [0, top], nice: false } },
        color: { field: 'series', type: 'nominal', title: null, scale: { domain: names, range: PALETTE.series.slice(0, Math.max(1, names.length)) }, legend: names.length > 1 ? { orient: 'top', direction: 'horizontal', labelLimit: 200 } : null },
      },
    },
  ];
  if (chart.threshold) {
    layers.push({
      data: { values: [{ value: chart.threshold.value, label: chart.threshold.label }] },
      layer: [
        { mark: { type: 'rule', color: PALETTE.alarm, strokeWidth: 2 }, encoding: { y: { field: 'value', type: 'quantitative' } } },
        { mark: { type: 'text', color: PALETTE.alarm, align: 'right', dy: -8, x: width - 4, fontSize: FONT_SIZE }, encoding: { y: { field: 'value', type: 'quantitative' }, text: { field: 'label' } } },
      ],
    });
  }
  if (chart.markers?.length) {
    const middle = (Math.min(...times) + Math.max(...times)) / 2;
    // Labels take three rows at the top (y in pixels) so markers close in time stay readable; a
    // label in the right half reads leftwards from its line so it is not cut at the edge.
    const labels = chart.markers.map((m, i) => ({ at: m.at, label: m.label, y: 14 + (i % 3) * (FONT_SIZE + 4), right: m.at > middle }));
    const labelLayer = (right: boolean) => ({
      transform: [{ filter: `datum.right === ${right}` }],
      mark: { type: 'text', color: PALETTE.marker, align: right ? 'right' : 'left', dx: right ? -3 : 3, fontSize: FONT_SIZE },
      encoding: { x: { ...x, scale: timeScale }, y: { field: 'y', type: 'quantitative', scale: null }, text: { field: 'label' } },
    });
    layers.push({
      data: { values: labels },
      layer: [{ mark: { type: 'rule', color: PALETTE.marker, strokeDash: [4, 3], strokeWidth: 1.5 }, encoding: { x: { ...x, scale: timeScale } } }, labelLayer(false), labelLayer(true)],
    });
  }
  if (chart.highlights?.length) {
    layers.push({
      data: { values: chart.highlights.map((h) => ({ at: h.at, value: h.value, label: h.label })) },
      layer: [
        { mark: { type: 'point', shape: 'diamond', filled: true, size: 160, color: PALETTE.alarm }, encoding: { x: { ...x, scale: timeScale }, y: { field: 'value', type: 'quantitative' } } },
        { mark: { type: 'text', color: PALETTE.alarm, dy: -14, fontSize: FONT_SIZE }, encoding: { x: { ...x, scale: timeScale }, y: { field: 'value', type: 'quantitative' }, text: { field: 'label' } } },
      ],
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: chart.title, anchor: 'start', fontSize: FONT_SIZE + 3 },
    width,
    height,
    autosize: { type: 'none' },
    padding,
    background: 'white',
    config: {
      font: FONT_FAMILY,
      axis: { labelFontSize: FONT_SIZE, titleFontSize: FONT_SIZE, grid: true, gridColor: '#e6e6e6' },
      legend: { labelFontSize: FONT_SIZE },
      view: { stroke: null },
    },
    layer: layers,
  } as TopLevelSpec;
}

/** Vega-Lite's notes about the spec go nowhere: the spec is ours and tested. */
const quiet = vega.logger(vega.None);

/** SVG first (Vega lays out text with its own metrics), then pixels with nothing but the bundled font. */
export async function renderChartPng(chart: Chart): Promise<Buffer> {
  if (chart.series.every((s) => s.points.length === 0)) throw new Error(`chart "${chart.title}" has no points`);
  const view = new vega.View(vega.parse(compile(chartSpec(chart), { logger: quiet }).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const png = new Resvg(svg, { font: { fontFiles: [FONT_FILE], loadSystemFonts: false, defaultFontFamily: FONT_FAMILY }, background: 'white' }).render().asPng();
    if (png.length > MAX_CHART_BYTES) throw new Error(`chart "${chart.title}" is ${png.length} bytes, over ${MAX_CHART_BYTES}`);
    return png;
  } finally {
    view.finalize();
  }
}

/** A file name from the title: letters, digits and dashes. */
export function chartFilename(chart: Chart): string {
  const slug = chart.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  return `${slug || 'chart'}.png`;
}
