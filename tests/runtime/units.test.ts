/** The runtime's pure pieces: configuration, tokenizing, sealing, redaction, rendering limits. */
import { describe, expect, it } from 'vitest';
import { parseConfig, ConfigError } from '../../src/config.ts';
import { tokenize, parseArgs } from '../../src/core/args.ts';
import { UsageError } from '../../src/core/types.ts';
import { createSecretBox, randomSecretKey } from '../../src/core/secrets.ts';
import { redactFields } from '../../src/core/redact.ts';
import { createLogger } from '../../src/logger.ts';
import { redact, maskUrl } from '../../commands/shared/redact.ts';
import { renderMessage, renderModal } from '../../src/render/blockkit.ts';
import { formatTable, formatTableToWidth, wrapLine } from '../../src/render/text.ts';
import { codeBlockLines } from '../harness/phone.ts';
import { validateBlocks, validateView } from '../../dev/slack-emulator/index.ts';
import { closestVerb, buildRegistry } from '../../src/core/registry.ts';
import { roleSessionName } from '../../src/clients.ts';
import { formatDuration, spokenDuration } from '../../src/core/durations.ts';

describe('configuration', () => {
  it('defaults to the runbook names', () => {
    const config = parseConfig({});
    expect(config.terraform.states[0]).toMatchObject({ bucket: 'autostack-tfstate', key: 'autostack/terraform.tfstate' });
    expect(config.terraform.lockTable).toBe('autostack-tf-locks');
    expect(config.kubernetes.namespace).toBe('autostack');
    expect(config.iam).toMatchObject({ roleName: 'AutoStackTerraformRole', policyName: 'AutoStackMinimalPolicy' });
    expect(config.approvals.ttl).toBe('30m');
  });

  it('names the key and what is wrong', () => {
    expect(() => parseConfig({ access: { approver: { users: ['alice'] } } })).toThrow(/access\.approver\.users\.0: must be a Slack user ID/);
    expect(() => parseConfig({ approvals: { ttl: 'soon' } })).toThrow(/approvals\.ttl: must be a duration/);
    expect(() => parseConfig({ terraform: { lockTabel: 'x' } })).toThrow(ConfigError);
    expect(() => parseConfig({ terraform: { lockTabel: 'x' } })).toThrow(/terraform.*lockTabel/);
    expect(() => parseConfig({}, { PORT: 'eighty' })).toThrow(/slack\.port/);
  });

  it('takes Slack, Redis and AWS settings from the environment', () => {
    const config = parseConfig({}, { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', SLACK_API_URL: 'http://127.0.0.1:1/api/', REDIS_URL: 'redis://r:6379', AWS_ENDPOINT_URL: 'http://127.0.0.1:2', PORT: '8080' });
    expect(config.slack).toMatchObject({ botToken: 'xoxb-1', signingSecret: 's', apiUrl: 'http://127.0.0.1:1/api/', port: 8080 });
    expect(config.redis.url).toBe('redis://r:6379');
    expect(config.aws.endpoint).toBe('http://127.0.0.1:2');
  });
});

describe('tokenizer', () => {
  it('groups quoted words and keeps shell metacharacters as data', () => {
    expect(tokenize(`rollback backend "bad deploy; rm -rf /" 'it''s' \\$HOME`)).toEqual(['rollback', 'backend', 'bad deploy; rm -rf /', 'its', '$HOME']);
    expect(tokenize('  ')).toEqual([]);
    expect(tokenize('say “smart quotes”')).toEqual(['say', 'smart quotes']);
  });

  it('refuses control characters, unclosed quotes and oversize input', () => {
    expect(() => tokenize('a\u0000b')).toThrow(UsageError);
    expect(() => tokenize('"open')).toThrow(/unclosed/);
    expect(() => tokenize('x'.repeat(4001))).toThrow(/4000/);
  });

  it('splits flags declared by the verb and counts positionals', () => {
    const verb = { path: ['logs'], usage: '<app>', positional: { min: 1, max: 1 }, flags: { since: 'string', previous: 'boolean' } as const };
    expect(parseArgs(['backend', '--since=15m', '--previous'], verb)).toEqual({ positional: ['backend'], flags: { since: '15m', previous: true } });
    expect(() => parseArgs(['--previous=yes', 'x'], verb)).toThrow(/takes no value/);
    expect(() => parseArgs([], verb)).toThrow(/expected 1 argument, got 0/);
  });
});

describe('sealed values', () => {
  it('round-trips and never contains the plain text', () => {
    const box = createSecretBox(randomSecretKey());
    const sealed = box.seal('hunter2-client-secret');
    expect(sealed).not.toContain('hunter2');
    expect(box.open(sealed)).toBe('hunter2-client-secret');
    expect(() => createSecretBox(randomSecretKey()).open(sealed)).toThrow();
    expect(() => createSecretBox('c2hvcnQ=')).toThrow(/32 bytes/);
  });

  it('redacts secret-looking fields in audit arguments', () => {
    expect(redactFields({ clientId: 'abc', clientSecret: 'xyz', nested: { password: 'p', token: 't' }, value: 'sealed:v1:abcd' })).toEqual({ clientId: 'abc', clientSecret: '[redacted]', nested: { password: '[redacted]', token: '[redacted]' }, value: '[redacted]' });
  });

  it('hides the same secret-looking names in log fields, audit arguments and shown text', () => {
    const lines: string[] = [];
    const log = createLogger('info', { write: (line: string) => lines.push(line) });
    const names = ['signingSecret', 'apiKey', 'sessionId', 'cookie', 'DB_PASSWORD', 'privateKey', 'Authorization'];
    log.info({ request: Object.fromEntries(names.map((name) => [name, 'hunter2'])), app: 'backend', err: new Error('boom') }, 'called');
    const logged = JSON.parse(lines[0]!) as { request: Record<string, string>; app: string; err: { message: string } };
    const audited = redactFields(Object.fromEntries(names.map((name) => [name, 'hunter2'])));
    for (const name of names) {
      expect(logged.request[name]).toBe('[redacted]');
      expect(audited[name]).toBe('[redacted]');
      expect(redact(`${name}=hunter2`)).toBe(`${name}=[REDACTED]`);
    }
    // Other fields, and errors for their serializer, stay as they were.
    expect(logged.app).toBe('backend');
    expect(logged.err.message).toBe('boom');
    expect(maskUrl('postgresql://db/app?sslpassword=hunter2&sslmode=require')).toBe('postgresql://db/app?sslpassword=***&sslmode=require');
  });
});

describe('Block Kit rendering', () => {
  it('stays within Slack limits for long text, tables and many buttons', () => {
    const long = 'line of log output\n'.repeat(2000);
    const rendered = renderMessage({ summary: 's', parts: [{ kind: 'code', text: long }, { kind: 'buttons', buttons: Array.from({ length: 30 }, (_, i) => ({ label: `Block 10.0.0.${i}`, action: 'ratelimit.block', value: `10.0.0.${i}` })) }] });
    expect(rendered.blocks.length).toBeLessThanOrEqual(50);
    expect(rendered.truncated).toBe(true);
    expect(validateBlocks(rendered.blocks as never, 'message')).toEqual([]);
    const short = renderMessage({ summary: 's', parts: [{ kind: 'table', columns: ['a', 'b'], rows: [['1', '<2>']] }, { kind: 'buttons', buttons: [{ label: 'x', action: 'a.b', value: '1' }, { label: 'y', action: 'a.b', value: '2' }] }] });
    expect(short.truncated).toBe(false);
    expect(JSON.stringify(short.blocks)).toContain('&lt;2&gt;');
    expect(validateBlocks(short.blocks as never, 'message')).toEqual([]);
  });

  it('keeps a table that fits a phone as columns, side by side', () => {
    const columns = ['#', 'Client', '429s'];
    const rows = [['1', '203.0.113.7', '120']];
    expect(formatTableToWidth(columns, rows)).toBe(formatTable(columns, rows));
    expect(formatTableToWidth(columns, rows)).toBe('#  Client       429s\n-  -----------  ----\n1  203.0.113.7  120');
  });

  it('keeps the columns of a wide table that fit, in order, and moves the others under their row as one indented line', () => {
    const columns = ['name', 'time', 'size', 'checksum', 'started by', 'reason'];
    const rows = [
      ['autostack-20261205-0200.dump', '2026-12-05 02:00 UTC', '7.75 KiB', 'recorded', 'schedule', 'daily schedule'],
      ['autostack-20261203-0200.dump', '2026-12-03 02:00 UTC', '7.75 KiB', 'verified 2026-12-04', 'manual', `before the migration of ${'x'.repeat(90)}`],
    ];
    expect(formatTable(columns, rows).split('\n')[0]!.length).toBeGreaterThan(80);
    const lines = formatTableToWidth(columns, rows).split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'name                          time                  size      started by',
      '----------------------------  --------------------  --------  ----------',
      'autostack-20261205-0200.dump  2026-12-05 02:00 UTC  7.75 KiB  schedule',
      '  checksum: recorded · reason: daily schedule',
      'autostack-20261203-0200.dump  2026-12-03 02:00 UTC  7.75 KiB  manual',
    ]);
    expect(lines[5]).toBe('  checksum: verified 2026-12-04 · reason: before the migration of');
    expect(lines.slice(6).every((l) => l.startsWith('    '))).toBe(true);
    expect(lines.join('').replace(/\s+/g, '')).toContain('x'.repeat(90));
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
  });

  it('renders no code-block line over 80 characters: wide tables, long log lines, fenced text', () => {
    const image = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/autostack/backend:1.4.2-rc.1-20261205';
    const log = `[backend-7d9f-abc12] ERROR: ${'word '.repeat(60)}`;
    const rendered = renderMessage({
      summary: 'wide',
      parts: [
        { kind: 'table', columns: ['revision', 'image', 'created'], rows: [['3', image, '2026-12-05 07:12 UTC (3 min ago)']] },
        { kind: 'code', text: `${log}\n${'y'.repeat(200)}` },
        { kind: 'text', text: `Switch to:\n\`\`\`\n${'arn:aws:iam::123456789012:role/'.repeat(4)}\n\`\`\`\nthen press the button.` },
      ],
    });
    const lines = codeBlockLines(rendered.blocks);
    expect(lines.length).toBeGreaterThan(8);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(lines).toContain('3         2026-12-05 07:12 UTC (3 min ago)');
    expect(lines.join('').replace(/\s+/g, '')).toContain(`image:${image}`);
    expect(lines.join('').replace(/\s+/g, '')).toContain('y'.repeat(200));
    expect(validateBlocks(rendered.blocks as never, 'message')).toEqual([]);
  });

  it('wraps a long line at a space, continuation lines indented', () => {
    expect(wrapLine('aaaa bbbb cccc dddd', 10)).toEqual(['aaaa bbbb', '  cccc', '  dddd']);
    expect(wrapLine('x'.repeat(25), 10)).toEqual(['x'.repeat(10), `  ${'x'.repeat(8)}`, `  ${'x'.repeat(7)}`]);
  });

  it('builds a valid modal from form fields', () => {
    const view = renderModal({ callbackId: 'verb.form', title: 'A very long title that Slack would refuse', submit: 'Run', metadata: '{}', intro: 'intro', fields: [{ name: 'role', label: 'Role name', initial: 'AutoStackTerraformRole' }, { name: 'principals', label: 'Trusted principals', multiline: true, optional: true }] });
    expect(validateView(view, 'modal')).toEqual([]);
  });
});

describe('verb suggestions and role sessions', () => {
  it('suggests the closest verb', () => {
    const verb = (path: string[]) => ({ path, section: 'bot' as const, runbookStep: '', summary: '', usage: '', minRole: 'viewer' as const, guard: 'none' as const, parse: () => ({}), execute: async () => ({ summary: '', parts: [], visibility: 'ephemeral' as const }) });
    const registry = buildRegistry([{ area: 't', verbs: [verb(['tf', 'lock']), verb(['tf', 'unlock']), verb(['backup', 'now'])] }]);
    expect(closestVerb(registry, ['tf', 'lokc'])).toBe('tf lock');
    expect(closestVerb(registry, ['backpu', 'now'])).toBe('backup now');
    expect(closestVerb(registry, ['completely', 'different'])).toBeUndefined();
  });

  it('names AWS role sessions after the Slack user', () => {
    expect(roleSessionName('U012ABC')).toBe('autostack-U012ABC');
    expect(roleSessionName(undefined)).toBe('autostack-bot');
  });
});

describe('lengths of time shown', () => {
  it('in fields: the two largest units, a zero second unit left out, clock skew as 0s', () => {
    const cases: Array<[number, string]> = [[-5_000, '0s'], [45_900, '45s'], [192_000, '3m 12s'], [900_000, '15m'], [7_500_000, '2h 5m'], [7_200_000, '2h'], [47 * 3_600_000, '47h'], [(3 * 24 + 4) * 3_600_000, '3d 4h']];
    for (const [ms, shown] of cases) expect(formatDuration(ms), String(ms)).toBe(shown);
  });

  it('in sentences: words to the minute past a minute', () => {
    const cases: Array<[number, string]> = [[44_600, '45 s'], [192_000, '3 min'], [7_500_000, '2 h 5 min'], [7_200_000, '2 h'], [3 * 86_400_000, '3 d']];
    for (const [ms, shown] of cases) expect(spokenDuration(ms), String(ms)).toBe(shown);
  });
});
