/**
 * Plain-text rendering of Block Kit content: what a reader would see, one line per block.
 * Used by the console to print messages and by tests to assert on content without digging
 * through block JSON.
 */
import type { Block } from './types.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Mrkdwn as a reader sees it: entities shown as characters, zero-width spaces invisible; markup (`<@U1>`) kept. */
export function readMrkdwn(source: string): string {
  return source.replace(/\u200b/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function text(v: unknown): string {
  if (typeof v === 'string') return readMrkdwn(v);
  if (isObj(v) && typeof v.text === 'string') return v.type === 'plain_text' ? v.text : readMrkdwn(v.text);
  return '';
}

function richText(v: unknown): string {
  if (!isObj(v)) return '';
  if (typeof v.text === 'string') return v.text;
  if (v.type === 'user' && typeof v.user_id === 'string') return `<@${v.user_id}>`;
  if (v.type === 'channel' && typeof v.channel_id === 'string') return `<#${v.channel_id}>`;
  if (v.type === 'link' && typeof v.url === 'string') return v.url;
  if (v.type === 'emoji' && typeof v.name === 'string') return `:${v.name}:`;
  if (Array.isArray(v.elements)) {
    const sep = v.type === 'rich_text_list' ? '\n' : '';
    return v.elements.map(richText).join(sep);
  }
  return '';
}

function elementText(el: unknown): string {
  if (!isObj(el)) return '';
  switch (el.type) {
    case 'button':
    case 'workflow_button':
      return `[${text(el.text)}]`;
    case 'image':
      return `(image: ${typeof el.alt_text === 'string' ? el.alt_text : ''})`;
    case 'plain_text':
    case 'mrkdwn':
      return text(el);
    case 'overflow':
      return '[…]';
    default: {
      const ph = text(el.placeholder);
      return `[${ph || String(el.type)} ▾]`;
    }
  }
}

/** One block as text. */
export function blockToText(block: Block): string {
  switch (block.type) {
    case 'header':
      return `*${text(block.text)}*`;
    case 'section': {
      const parts: string[] = [];
      if (block.text !== undefined) parts.push(text(block.text));
      if (Array.isArray(block.fields)) parts.push(block.fields.map(text).join(' | '));
      if (block.accessory !== undefined) parts.push(elementText(block.accessory));
      return parts.filter((p) => p.length > 0).join('\n');
    }
    case 'context':
      return Array.isArray(block.elements) ? block.elements.map(elementText).join(' ') : '';
    case 'actions':
      return Array.isArray(block.elements) ? block.elements.map(elementText).join(' ') : '';
    case 'divider':
      return '---';
    case 'input':
      return `${text(block.label)}: ${elementText(block.element)}`;
    case 'image':
      return `(image: ${typeof block.alt_text === 'string' ? block.alt_text : ''})`;
    case 'markdown':
      return typeof block.text === 'string' ? block.text : '';
    case 'rich_text':
      return Array.isArray(block.elements) ? block.elements.map(richText).join('\n') : '';
    default:
      return '';
  }
}

/** All blocks as text, one block per line (empty blocks skipped). */
export function blocksToText(blocks: readonly Block[] | undefined): string {
  return (blocks ?? [])
    .map(blockToText)
    .filter((line) => line.length > 0)
    .join('\n');
}

/** What a reader sees of a message: its blocks if it has any, else its text. */
export function messageToText(message: { text?: string; blocks?: readonly Block[] }): string {
  if (message.blocks && message.blocks.length > 0) return blocksToText(message.blocks);
  return readMrkdwn(message.text ?? '');
}
