/**
 * The one Block Kit builder: neutral replies in, Slack blocks out, within Slack's limits.
 */
import type { KnownBlock } from '@slack/web-api';
import type { Button, Part, Reply } from '../core/result.ts';
import { chartLine, formatTableToWidth, wrapText } from './text.ts';
import { escapeEntities, escapeValue, toMrkdwn } from '../core/text.ts';

// Slack's limits (https://api.slack.com/reference/block-kit/blocks).
const MAX_BLOCKS = 50;
const MAX_SECTION_TEXT = 3000;
const MAX_HEADER = 150;
const MAX_BUTTON_TEXT = 75;
const MAX_FIELDS = 10;
const MAX_FIELD_TEXT = 2000;
const MAX_ACTIONS = 25;
const MAX_VALUE = 2000;
/** Beyond this much text a message stops being readable in a channel; the rest goes into a file. */
const MAX_MESSAGE_CHARS = 12_000;

export type SlackBlock = Record<string, unknown>;

export interface RenderedMessage {
  text: string;
  blocks: KnownBlock[];
  /** True when the reply did not fit and was cut: the caller attaches the full text as a file. */
  truncated: boolean;
}

export { escapeEntities as escapeMrkdwn } from '../core/text.ts';

/** Never cuts inside an entity (`&amp;`) or between a zero-width fence and its character. */
function safeCut(text: string, at: number): number {
  const amp = text.lastIndexOf('&', at - 1);
  if (amp !== -1 && amp > at - 6 && !text.slice(amp, at).includes(';')) return amp;
  return at;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, safeCut(text, max - 1))}…`;
}

/** Splits text into chunks at line boundaries where possible. */
function chunk(text: string, max: number): string[] {
  const chunks: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf('\n', max);
    if (cut <= 0) cut = safeCut(rest, max);
    chunks.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^\n/, '');
  }
  chunks.push(rest);
  return chunks;
}

function section(text: string): SlackBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

/** A code block read on a phone: lines wrap at 80 characters instead of scrolling into noise. */
function preformatted(text: string): SlackBlock[] {
  // Six characters of ``` fences and newlines stay inside the section limit.
  return chunk(escapeEntities(wrapText(text)), MAX_SECTION_TEXT - 8).map((piece) => section('```\n' + piece + '\n```'));
}

/** Lines of code blocks a handler wrote into mrkdwn text wrap like `code` parts do. */
function wrapFences(text: string): string {
  return text.replace(/```\n?([\s\S]*?)\n?```/g, (_m, body: string) => '```\n' + wrapText(body) + '\n```');
}

/** Slack wants action_ids unique within a block; repeats get a `~n` suffix the listener strips. */
export const ACTION_SUFFIX = '~';

export function actionOf(actionId: string): string {
  const at = actionId.indexOf(ACTION_SUFFIX);
  return at === -1 ? actionId : actionId.slice(0, at);
}

export function buttonElement(button: Button, occurrence = 0): SlackBlock {
  const element: SlackBlock = {
    type: 'button',
    text: { type: 'plain_text', text: clip(button.label, MAX_BUTTON_TEXT), emoji: true },
    action_id: occurrence === 0 ? button.action : `${button.action}${ACTION_SUFFIX}${occurrence}`,
    value: clip(button.value, MAX_VALUE),
  };
  if (button.url) element.url = button.url;
  if (button.style) element.style = button.style;
  if (button.confirm) {
    element.confirm = {
      title: { type: 'plain_text', text: clip(button.confirm.title, 100) },
      text: { type: 'mrkdwn', text: clip(escapeEntities(button.confirm.text), 300) },
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
      return chunk(wrapFences(toMrkdwn(part.text)), MAX_SECTION_TEXT).map(section);
    case 'context':
      return [{ type: 'context', elements: [{ type: 'mrkdwn', text: clip(toMrkdwn(part.text), MAX_SECTION_TEXT) }] }];
    case 'fields': {
      const blocks: SlackBlock[] = [];
      for (let i = 0; i < part.fields.length; i += MAX_FIELDS) {
        blocks.push({
          type: 'section',
          fields: part.fields.slice(i, i + MAX_FIELDS).map(([label, value]) => ({ type: 'mrkdwn', text: clip(`*${escapeEntities(label)}*\n${toMrkdwn(value)}`, MAX_FIELD_TEXT) })),
        });
      }
      return blocks;
    }
    case 'table':
      return preformatted(formatTableToWidth(part.columns, part.rows));
    case 'code':
      return preformatted(part.text);
    case 'buttons': {
      const blocks: SlackBlock[] = [];
      for (let i = 0; i < part.buttons.length; i += MAX_ACTIONS) {
        const seen = new Map<string, number>();
        const elements = part.buttons.slice(i, i + MAX_ACTIONS).map((button) => {
          const occurrence = seen.get(button.action) ?? 0;
          seen.set(button.action, occurrence + 1);
          return buttonElement(button, occurrence);
        });
        blocks.push({ type: 'actions', block_id: `${blockIdPrefix}actions-${i}`, elements });
      }
      return blocks;
    }
    case 'divider':
      return [{ type: 'divider' }];
    case 'chart':
      // The image follows in the thread (src/slack/charts.ts); this line stays if it cannot.
      return [{ type: 'context', elements: [{ type: 'mrkdwn', text: clip(toMrkdwn(chartLine(part.chart)), MAX_SECTION_TEXT) }] }];
  }
}

/** Renders a reply; over Slack's block limit it keeps the first blocks and marks it truncated. */
export function renderMessage(reply: Pick<Reply, 'summary' | 'parts'>, maxBlocks = MAX_BLOCKS): RenderedMessage {
  const blocks = reply.parts.flatMap((part, i) => partToBlocks(part, `p${i}-`));
  // The summary is plain text (notifications, fallback): nothing in it formats, mentions or links.
  const text = clip(escapeValue(reply.summary), 3000);
  // Built to Slack's schema above; the emulator and Slack validate the result.
  const size = (block: SlackBlock) => JSON.stringify(block).length;
  const total = blocks.reduce((sum, block) => sum + size(block), 0);
  if (blocks.length <= maxBlocks && total <= MAX_MESSAGE_CHARS) return { text, blocks: blocks as unknown as KnownBlock[], truncated: false };
  // Too long to read as a message: keep the head (and any buttons), attach the rest as a file.
  const buttons = blocks.filter((block) => block.type === 'actions');
  const kept: SlackBlock[] = [];
  let used = buttons.reduce((sum, block) => sum + size(block), 0);
  for (const block of blocks) {
    if (block.type === 'actions') continue;
    if (kept.length + buttons.length >= maxBlocks - 1 || used + size(block) > MAX_MESSAGE_CHARS) break;
    kept.push(block);
    used += size(block);
  }
  kept.push(...buttons.slice(0, maxBlocks - 1 - kept.length));
  kept.push({ type: 'context', elements: [{ type: 'mrkdwn', text: 'Output truncated: the full text is attached as a file.' }] });
  return { text, blocks: kept as unknown as KnownBlock[], truncated: true };
}

/** Slack's limit of options in a static select. */
const MAX_SELECT_OPTIONS = 100;

/** A modal with one input per form field (a text input, or a static select when it has options); values come back under state.values[field].value. */
export function renderModal(modal: import('../core/surface.ts').ModalSpec): Record<string, unknown> {
  const blocks: SlackBlock[] = [];
  if (modal.intro) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(escapeEntities(modal.intro), MAX_SECTION_TEXT) } });
  for (const field of modal.fields) {
    const element: SlackBlock = field.options
      ? {
          type: 'static_select',
          action_id: 'value',
          placeholder: { type: 'plain_text', text: clip(`Choose ${field.label.toLowerCase()}`, 150) },
          options: field.options.slice(0, MAX_SELECT_OPTIONS).map((o) => ({ text: { type: 'plain_text', text: clip(o.label, 75) }, value: clip(o.value, 150) })),
        }
      : { type: 'plain_text_input', action_id: 'value', multiline: Boolean(field.multiline) };
    if (field.initial && !field.options) element.initial_value = field.initial;
    const block: SlackBlock = { type: 'input', block_id: field.name, optional: Boolean(field.optional), label: { type: 'plain_text', text: clip(field.label, 2000) }, element };
    if (field.hint) block.hint = { type: 'plain_text', text: clip(field.hint, 2000) };
    blocks.push(block);
  }
  return {
    type: 'modal',
    callback_id: modal.callbackId,
    private_metadata: modal.metadata,
    title: { type: 'plain_text', text: clip(modal.title, 24) },
    submit: { type: 'plain_text', text: clip(modal.submit, 24) },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks,
  };
}

/** Reads a submitted modal's values back into field name → text. */
export function modalValues(state: { values?: Record<string, Record<string, { value?: string | null; selected_option?: { value?: string } | null }>> } | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [blockId, actions] of Object.entries(state?.values ?? {})) out[blockId] = actions.value?.value ?? actions.value?.selected_option?.value ?? '';
  return out;
}
