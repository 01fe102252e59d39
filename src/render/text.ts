/** Plain-text building blocks shared by both renderers. */
import type { Chart, Part, Reply } from '../core/result.ts';
import { plainText } from '../core/text.ts';

export function formatTable(columns: string[], rows: string[][]): string {
  const widths = columns.map((column, i) => Math.max(column.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The widest code-block line a reply may have: what a phone shows without wrapping it into noise. */
export const PHONE_WIDTH = 80;

/**
 * `line` cut into pieces of at most `width` characters, at a space when there is one in the second
 * half of the piece; continuation pieces are indented by `indent` spaces.
 */
export function wrapLine(line: string, width = PHONE_WIDTH, indent = 2): string[] {
  if (line.length <= width) return [line];
  const pieces: string[] = [];
  let rest = line;
  let room = width;
  while (rest.length > room) {
    const space = rest.lastIndexOf(' ', room);
    const cut = space >= room / 2 ? space : room;
    pieces.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
    room = width - indent;
  }
  if (rest.length) pieces.push(rest);
  return pieces.map((piece, i) => (i === 0 ? piece : `${' '.repeat(indent)}${piece}`));
}

/** Every line of `text` wrapped to `width` (log lines, plans, anything preformatted). */
export function wrapText(text: string, width = PHONE_WIDTH): string {
  return text
    .split('\n')
    .flatMap((line) => wrapLine(line, width))
    .join('\n');
}

/**
 * A table that fits `width` columns: side by side when it does already; otherwise the columns are
 * kept in the command's order while they fit, and those that do not move under their row as one
 * indented "column: value · column: value" line. The first column always stays; a line still too
 * wide wraps.
 */
export function formatTableToWidth(columns: string[], rows: string[][], width = PHONE_WIDTH): string {
  const full = formatTable(columns, rows);
  if (full.split('\n').every((l) => l.length <= width)) return full;
  const widths = columns.map((column, i) => Math.max(column.length, ...rows.map((row) => (row[i] ?? '').length)));
  const kept: number[] = [0];
  const below: number[] = [];
  let used = widths[0]!;
  for (let i = 1; i < columns.length; i++) {
    if (used + 2 + widths[i]! <= width) {
      kept.push(i);
      used += 2 + widths[i]!;
    } else below.push(i);
  }
  const main = (cells: string[]) => cells.map((cell, k) => (k === cells.length - 1 ? cell : cell.padEnd(widths[kept[k]!]!))).join('  ').trimEnd();
  const lines = [main(kept.map((i) => columns[i]!)), main(kept.map((i) => '-'.repeat(widths[i]!)))];
  for (const row of rows) {
    lines.push(...wrapLine(main(kept.map((i) => row[i] ?? '')), width));
    const detail = below
      .map((i) => [columns[i]!, (row[i] ?? '').trim()] as const)
      .filter(([, value]) => value !== '')
      .map(([column, value]) => (column ? `${column}: ${value}` : value))
      .join(' · ');
    if (detail) lines.push(...wrapLine(`  ${detail}`, width, 4));
  }
  return lines.map((l) => l.trimEnd()).join('\n');
}

/** Slack mrkdwn markup removed for terminals: <@U1> → @U1, <url|label> → label (url), *b* → b. */
export function plainFromMrkdwn(text: string): string {
  return text
    .replace(/<@([A-Z0-9]+)>/g, '@$1')
    .replace(/<!subteam\^([A-Z0-9]+)(\|[^>]*)?>/g, '@group:$1')
    .replace(/<#([A-Z0-9]+)(\|([^>]*))?>/g, (_m, id: string, _l, label?: string) => `#${label ?? id}`)
    .replace(/<(https?:[^|>]+)\|([^>]+)>/g, '$2 ($1)')
    .replace(/<(https?:[^>]+)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The whole reply as plain text (console output, file uploads of long output). */
export function replyToText(reply: Pick<Reply, 'parts'>): string {
  return reply.parts.map(partToText).filter((s) => s.length > 0).join('\n');
}

function partToText(part: Part): string {
  switch (part.kind) {
    case 'heading':
      return `== ${part.text} ==`;
    case 'text':
    case 'context':
      return plainText(part.text);
    case 'fields':
      return part.fields.map(([label, value]) => `${label}: ${plainText(value)}`).join('\n');
    case 'table':
      return formatTable(part.columns, part.rows);
    case 'code':
      return part.text;
    case 'buttons':
      return '';
    case 'divider':
      return '----';
    case 'chart':
      return chartLine(part.chart);
  }
}

const SPARK_LEVELS = '▁▂▃▄▅▆▇█';
/** A sparkline longer than this no longer fits a phone's line beside its numbers. */
const MAX_SPARK_WIDTH = 40;

/**
 * Values as a one-line sparkline, scaled from 0 to `top` (default: the largest value). Longer
 * series are cut into `width` buckets, each shown by its largest value so no peak disappears.
 */
export function sparkline(values: number[], top = Math.max(0, ...values), width = MAX_SPARK_WIDTH): string {
  if (values.length === 0) return '';
  const buckets = Math.min(width, values.length);
  const levels: string[] = [];
  for (let b = 0; b < buckets; b++) {
    const slice = values.slice(Math.floor((b * values.length) / buckets), Math.floor(((b + 1) * values.length) / buckets));
    const value = Math.max(...slice);
    const level = top <= 0 ? 0 : Math.round((Math.min(value, top) / top) * (SPARK_LEVELS.length - 1));
    levels.push(SPARK_LEVELS[Math.max(0, level)]!);
  }
  return levels.join('');
}

/** A chart as text: its first series as a sparkline (scaled with the threshold), then its alt text. */
export function chartLine(chart: Chart): string {
  const values = chart.series[0]?.points.map((p) => p.value) ?? [];
  const top = Math.max(0, ...values, chart.threshold?.value ?? 0);
  const spark = sparkline(values, top);
  return spark ? `📈 ${spark} ${chart.alt}` : `📈 ${chart.alt}`;
}
