/**
 * What a reply looks like on a phone: the lines of its code blocks (Slack does not wrap them
 * readably) and the people it names without a mention.
 */

/** Every mrkdwn text in the blocks: sections, their fields, context elements. */
function mrkdwnTexts(blocks: readonly unknown[]): string[] {
  const texts: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (record.type === 'mrkdwn' && typeof record.text === 'string') texts.push(record.text);
    for (const [key, value] of Object.entries(record)) if (key !== 'text' || typeof value !== 'string') visit(value);
  };
  visit(blocks);
  return texts;
}

/** The lines inside ``` fences of the blocks' mrkdwn, as Slack shows them (entities decoded). */
export function codeBlockLines(blocks: readonly unknown[]): string[] {
  const lines: string[] = [];
  for (const text of mrkdwnTexts(blocks)) {
    for (const match of text.matchAll(/```([\s\S]*?)```/g)) {
      const body = match[1]!.replace(/^\n/, '').replace(/\n$/, '');
      lines.push(...body.split('\n').map((line) => line.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')));
    }
  }
  return lines;
}

/**
 * User IDs that are not in a `<@…>` mention: Slack's shape (U or W and 8+ capitals or digits) and
 * the given known IDs. Each hit comes with its surroundings.
 */
export function rawUserIds(text: string, known: readonly string[] = []): string[] {
  const hits: string[] = [];
  const pattern = new RegExp(`\\b(?:[UW][A-Z0-9]{8,}${known.map((id) => `|${id}`).join('')})\\b`, 'g');
  for (const match of text.matchAll(pattern)) {
    const at = match.index;
    const mention = text.slice(Math.max(0, at - 2), at) === '<@' && /^[>|]/.test(text.slice(at + match[0].length));
    if (!mention) hits.push(text.slice(Math.max(0, at - 40), at + match[0].length + 20));
  }
  return hits;
}
