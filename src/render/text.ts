/** Plain-text building blocks shared by both renderers. */
import type { Part, Reply } from '../core/result.ts';
import { plainText } from '../core/text.ts';

export function formatTable(columns: string[], rows: string[][]): string {
  const widths = columns.map((column, i) => Math.max(column.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
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
  }
}
