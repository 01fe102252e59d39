/**
 * Transport-neutral results. Handlers and jobs return these; `src/render/blockkit.ts` turns them
 * into Block Kit, `src/render/text.ts` into plain text and `src/render/chart.ts` charts into PNG.
 * Nothing else builds Block Kit.
 */

import type { Text } from './text.ts';
import { joinText, plainText } from './text.ts';

/**
 * `heading`, `table` and `code` are shown as written (plain text or a code block); `text`,
 * `context` and field values are `Text` (src/core/text.ts): a string is escaped, markup Slack acts
 * on (mentions, links) only comes from `md`.
 */
export type Part =
  | { kind: 'heading'; text: string }
  | { kind: 'text'; text: Text }
  | { kind: 'fields'; fields: Array<readonly [label: string, value: Text]> }
  | { kind: 'table'; columns: string[]; rows: string[][] }
  | { kind: 'code'; text: string }
  | { kind: 'context'; text: Text }
  | { kind: 'buttons'; buttons: Button[] }
  | { kind: 'divider' }
  | { kind: 'chart'; chart: Chart };

/** A point in time (ms since epoch) and its value. */
export interface ChartPoint {
  at: number;
  value: number;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
}

/**
 * A time chart: an extra beside the reply's text, never its only content. Slack gets a PNG in the
 * thread (its alt text is `alt`), the console a one-line sparkline with `alt` beside it.
 */
export interface Chart {
  title: string;
  /** What the values count, with the unit: "429s per minute". */
  yTitle: string;
  series: ChartSeries[];
  /** A horizontal line: an alert threshold, or the count a rollout must reach. */
  threshold?: { value: number; label: string };
  /** Moments on the time axis: a block, an unblock, a rollout step. */
  markers?: Array<{ at: number; label: string }>;
  /** Points called out (a backup much smaller than the ones before it). */
  highlights?: Array<ChartPoint & { label: string }>;
  /** Read where the image is not seen (screen readers, the console): what it shows, with the key numbers. */
  alt: string;
}

export interface Button {
  label: string;
  /** Interaction id, routed to the handler registered under it. */
  action: string;
  value: string;
  style?: 'primary' | 'danger';
  /** A link button (opens a URL, no interaction). */
  url?: string;
  /** Ask "are you sure?" before the click is sent. */
  confirm?: { title: string; text: string; confirm: string; deny: string };
}

export interface Attachment {
  filename: string;
  title: string;
  content: string;
}

export interface Reply {
  /** Plain-text summary: notification text, console fallback, audit result. */
  summary: string;
  parts: Part[];
  /** Ephemeral answers go to the asking user only. */
  visibility: 'ephemeral' | 'channel';
  /** Output too long for a message is uploaded as a file (in the thread when there is one). */
  attachment?: Attachment;
  /** An error reply: the summary is shown as an error. */
  error?: boolean;
}

export function reply(summary: Text, parts: Part[] = [], visibility: Reply['visibility'] = 'ephemeral'): Reply {
  return { summary: plainText(summary), parts: parts.length ? parts : [{ kind: 'text', text: summary }], visibility };
}

export function errorReply(message: Text, hint?: Text): Reply {
  const parts: Part[] = [{ kind: 'text', text: joinText([':warning: ', message]) }];
  if (hint) parts.push({ kind: 'context', text: hint });
  return { summary: plainText(message), parts, visibility: 'ephemeral', error: true };
}

export function table(columns: string[], rows: string[][]): Part {
  return { kind: 'table', columns, rows };
}
