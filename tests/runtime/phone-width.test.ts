/**
 * Replies read on a phone: no code-block line over 80 characters once rendered to Block Kit,
 * whatever a table or log line holds.
 */
import { describe, expect, it } from 'vitest';
import { renderMessage } from '../../src/render/blockkit.ts';
import { MAX_CODE_WIDTH, formatTable } from '../../src/render/text.ts';
import type { Reply } from '../../src/core/result.ts';

/** Every line inside ``` fences of the rendered blocks. */
function codeLines(reply: Pick<Reply, 'summary' | 'parts'>): string[] {
  const texts = JSON.stringify(renderMessage(reply).blocks).match(/"text":"(?:[^"\\]|\\.)*"/g) ?? [];
  const lines: string[] = [];
  for (const raw of texts) {
    const text = JSON.parse(raw.slice(7)) as string;
    for (const block of text.match(/```\n[\s\S]*?\n```/g) ?? []) lines.push(...block.slice(4, -4).split('\n'));
  }
  return lines;
}

const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/autostack/backend:1.4.2-rc.1-20261205-deadbeef';

describe('code blocks fit a phone', () => {
  it('keeps a narrow table as columns', () => {
    expect(formatTable(['#', 'Client', '429s'], [['1', '203.0.113.7', '120']])).toBe('#  Client       429s\n-  -----------  ----\n1  203.0.113.7  120');
  });

  it('turns a table wider than 80 characters into one block per row, and wraps long log lines', () => {
    const reply: Reply = {
      summary: 'wide',
      visibility: 'channel',
      parts: [
        { kind: 'table', columns: ['revision', 'image', 'change-cause', 'created'], rows: [['3', IMAGE, 'rollback to revision previous by U0BOB: crash loop after release', '2026-12-05 07:12 UTC (3m ago)']] },
        { kind: 'code', text: `[backend-7d9f-abc12] ${'x'.repeat(300)}` },
      ],
    };
    const lines = codeLines(reply);
    expect(lines.length).toBeGreaterThan(4);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(MAX_CODE_WIDTH);
    expect(lines).toContain('revision: 3');
    expect(lines.join('')).toContain('x'.repeat(70));
  });
});
