/**
 * The one Block Kit builder: neutral replies in, Slack blocks out, within Slack's limits.
 */
import type { KnownBlock } from '@slack/web-api';
import type { Button, Part, Reply } from '../core/result.ts';
import { formatTable } from './text.ts';

// Slack's limits (https://api.slack.com/reference/block-kit/blocks).
const MAX_BLOCKS = 50;
const MAX_SECTION_TEXT = 3000;
const MAX_HEADER = 150;
const MAX_BUTTON_TEXT = 75;
const MAX_FIELDS = 10;
const MAX_FIELD_TEXT = 2000;
const MAX_ACTIONS = 25;
const MAX_VALUE = 2000;

export type SlackBlock = Record<string, unknown>;

export interface RenderedMessage {
  text: string;
  blocks: KnownBlock[];
  /** True when the reply did not fit and was cut: the caller attaches the full text as a file. */
  truncated: boolean;
}

export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Splits text into chunks at line boundaries where possible. */
function chunk(text: string, max: number): string[] {
  const chunks: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf('\n', max);
    if (cut <= 0) cut = max;
    chunks.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^\n/, '');
  }
  chunks.push(rest);
  return chunks;
}

function section(text: string): SlackBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

function preformatted(text: string): SlackBlock[] {
  // Six characters of ``` fences and newlines stay inside the section limit.
  return chunk(escapeMrkdwn(text), MAX_SECTION_TEXT - 8).map((piece) => section('```\n' + piece + '\n```'));
}

export function buttonElement(button: Button): SlackBlock {
  const element: SlackBlock = {
    type: 'button',
    text: { type: 'plain_text', text: clip(button.label, MAX_BUTTON_TEXT), emoji: true },
    action_id: button.action,
    value: clip(button.value, MAX_VALUE),
  };
  if (button.url) element.url = button.url;
  if (button.style) element.style = button.style;
  if (button.confirm) {
    element.confirm = {
      title: { type: 'plain_text', text: clip(button.confirm.title, 100) },
      text: { type: 'mrkdwn', text: clip(button.confirm.text, 300) },
      confirm: { type: 'plain_text', text: clip(button.confirm.confirm, 30) },
      deny: { type: 'plain_text', text: clip(button.confirm.deny, 30) },
    };
  }
  return element;
}

export function partToBlocks(part: Part, blockIdPrefix = ''): SlackBlock[] {
  switch (part.kind) {
    case 'heading':
      return [{ type: 'header', text: { type: 'plain_text', text: clip(part.text, MAX_HEADER), emoji: true } }];
    case 'text':
      return chunk(part.text, MAX_SECTION_TEXT).map(section);
    case 'context':
      return [{ type: 'context', elements: [{ type: 'mrkdwn', text: clip(part.text, MAX_SECTION_TEXT) }] }];
    case 'fields': {
      const blocks: SlackBlock[] = [];
      for (let i = 0; i < part.fields.length; i += MAX_FIELDS) {
        blocks.push({
          type: 'section',
          fields: part.fields.slice(i, i + MAX_FIELDS).map(([label, value]) => ({ type: 'mrkdwn', text: clip(`*${label}*\n${value}`, MAX_FIELD_TEXT) })),
        });
      }
      return blocks;
    }
    case 'table':
      return preformatted(formatTable(part.columns, part.rows));
    case 'code':
      return preformatted(part.text);
    case 'buttons': {
      const blocks: SlackBlock[] = [];
      for (let i = 0; i < part.buttons.length; i += MAX_ACTIONS) {
        blocks.push({ type: 'actions', block_id: `${blockIdPrefix}actions-${i}`, elements: part.buttons.slice(i, i + MAX_ACTIONS).map(buttonElement) });
      }
      return blocks;
    }
    case 'divider':
      return [{ type: 'divider' }];
  }
}

/** Renders a reply; over Slack's block limit it keeps the first blocks and marks it truncated. */
export function renderMessage(reply: Pick<Reply, 'summary' | 'parts'>, maxBlocks = MAX_BLOCKS): RenderedMessage {
  const blocks = reply.parts.flatMap((part, i) => partToBlocks(part, `p${i}-`));
  const text = clip(reply.summary, 3000);
  // Built to Slack's schema above; the emulator and Slack validate the result.
  if (blocks.length <= maxBlocks) return { text, blocks: blocks as unknown as KnownBlock[], truncated: false };
  const kept = blocks.slice(0, maxBlocks - 1);
  kept.push({ type: 'context', elements: [{ type: 'mrkdwn', text: 'Output truncated: the full text is attached as a file.' }] });
  return { text, blocks: kept as unknown as KnownBlock[], truncated: true };
}
