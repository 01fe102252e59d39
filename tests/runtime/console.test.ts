/** Console mode runs the same flows as Slack: driven here through stdin and stdout. */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { runConsole } from '../../dev/console/console.ts';
import { parseConfig } from '../../src/config.ts';
import { guarded } from './fixtures.ts';
import { testServices, uniqueName } from '../harness/env.ts';

describe('console mode', () => {
  const input = new PassThrough();
  const output = new PassThrough();
  let seen = '';
  let finished: Promise<void>;
  output.on('data', (chunk: Buffer) => (seen += chunk.toString('utf8')));

  /** Waits until the output (after `from`) matches; returns the new output. */
  async function expectOutput(pattern: RegExp, from: number, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(seen.slice(from))) {
      if (Date.now() > deadline) throw new Error(`console never printed ${pattern}; it printed:\n${seen.slice(from)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return seen.slice(from);
  }

  function type(line: string): number {
    const mark = seen.length;
    input.write(`${line}\n`);
    return mark;
  }

  function buttonNumber(text: string, label: string): string {
    const matches = [...text.matchAll(new RegExp(`\\[(\\d+)\\] ${label}`, 'g'))];
    const last = matches.at(-1);
    if (!last) throw new Error(`no button ${label} in:\n${text}`);
    return last[1]!;
  }

  beforeAll(() => {
    const config = parseConfig({ redis: { url: testServices().redisUrl, prefix: uniqueName('console') } });
    finished = runConsole({ config, log: pino({ level: 'silent' }), input, output, bot: guarded(uniqueName('plan')) });
  });
  afterAll(async () => {
    input.end();
    await finished;
  });

  it('greets, lists demo users and answers help', async () => {
    await expectOutput(/you are @alice in #ops/, 0);
    const from = type('/autostack help');
    const out = await expectOutput(/Your role: approver/, from);
    expect(out).toContain('/autostack ping [--slow N]');
    expect(out).toContain('/autostack danger op <steps>');
  });

  it('renders a job thread with its steps and final status', async () => {
    const from = type('/autostack ping --slow 2');
    const out = await expectOutput(/Succeeded in/, from);
    expect(out).toMatch(/│ Step 1\/2 done/);
    expect(out).toMatch(/│ Step 2\/2 done/);
  });

  it('demos an approval by acting as another user and clicking by number', async () => {
    type('/as bob');
    let from = type('/autostack danger op 1');
    let out = await expectOutput(/\[\d+\] Reject/, from);
    const approve = buttonNumber(out, 'Approve');
    from = type(approve);
    out = await expectOutput(/needs the approver role/, from);
    type('/as alice');
    from = type(approve);
    out = await expectOutput(/Approved by @alice/, from);
    await expectOutput(/Ping with 1 steps/, from);
  });

  it('fills a modal field by field and shows field errors', async () => {
    type('/as bob');
    const from = type('/autostack form op');
    await expectOutput(/Name \[default-name\]: /, from);
    type('');
    await expectOutput(/Count: /, from);
    type('zero');
    await expectOutput(/✗ count: count must be a positive whole number/, from);
    type('3');
    const out = await expectOutput(/form ran with default-name x3/, from);
    expect(out).toContain('submitted');
  });

  it('asks the approver to type the target before approving', async () => {
    let from = type('/autostack typed op 2');
    let out = await expectOutput(/\[\d+\] Reject/, from);
    const approve = buttonNumber(out, 'Approve');
    type('/as carol');
    from = type(approve);
    await expectOutput(/Target database: /, from);
    type('production');
    await expectOutput(/✗ typed: Type exactly autostack to approve/, from);
    type('autostack');
    out = await expectOutput(/Approved by @carol/, from);
    await expectOutput(/Ping with 2 steps/, from);
  });
});
