import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { App, LogLevel, verifySlackRequest } from '@slack/bolt';
import type { AddressInfo } from 'node:net';
import { WebClient, WebClientEvent } from '@slack/web-api';
import type { Logger, RetryOptions } from '@slack/web-api';
import {
  SlackEmulator,
  blockActionsPayload,
  blocksToText,
  sendSigned,
  signSlackRequest,
  slashCommandBody,
  viewSubmissionPayload,
} from '../dev/slack-emulator/index.ts';
import type { Block } from '../dev/slack-emulator/index.ts';

const ALICE = 'U01ALICE';
const BOB = 'U01BOB';
const OPS = 'C01OPS';
const INCIDENT = 'C01INCIDENT';

function newEmulator(extra: ConstructorParameters<typeof SlackEmulator>[0] = {}): SlackEmulator {
  return new SlackEmulator({
    users: [
      { id: ALICE, name: 'alice', realName: 'Alice Ops', email: 'alice@example.com' },
      { id: BOB, name: 'bob', realName: 'Bob Dev' },
    ],
    channels: [
      { id: OPS, name: 'ops' },
      { id: INCIDENT, name: 'incident', members: [ALICE] },
    ],
    usergroups: { S01ONCALL: [ALICE, BOB] },
    ...extra,
  });
}

/** WebClient logs every error answer it gets; these tests provoke them on purpose. */
const quietLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

function clientFor(emu: SlackEmulator, options: { token?: string; retryConfig?: RetryOptions; timeout?: number } = {}): WebClient {
  return new WebClient('token' in options ? options.token : emu.botToken, {
    slackApiUrl: emu.apiUrl,
    retryConfig: options.retryConfig ?? { retries: 0 },
    timeout: options.timeout,
    logger: quietLogger,
  });
}

/** The `data` of the platform error a Web API call failed with. */
async function slackError(call: Promise<unknown>): Promise<{ error: string; response_metadata?: { messages?: string[] } }> {
  try {
    await call;
  } catch (err) {
    const e = err as { code?: string; data?: { error: string; response_metadata?: { messages?: string[] } } };
    expect(e.code).toBe('slack_webapi_platform_error');
    return e.data!;
  }
  throw new Error('expected the call to fail');
}

function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

describe('SlackEmulator with the real WebClient', () => {
  const emu = newEmulator();
  let client: WebClient;

  beforeAll(async () => {
    await emu.start();
    client = clientFor(emu);
  });
  afterAll(async () => {
    await emu.close();
  });
  beforeEach(() => {
    emu.reset();
  });

  it('answers auth.test with the bot identity', async () => {
    const res = await client.auth.test();
    expect(res).toMatchObject({ ok: true, user_id: emu.botUserId, bot_id: emu.botId, team_id: emu.teamId });
  });

  it('posts messages and threaded replies, and returns the thread through conversations.replies', async () => {
    const seen: string[] = [];
    emu.on('message', (m) => seen.push(`${m.channel}:${m.thread_ts ?? '-'}:${m.text}`));
    const parent = await client.chat.postMessage({ channel: OPS, text: 'Deploy started', blocks: [section('*Deploy* started')] });
    expect(parent.ok).toBe(true);
    expect(parent.channel).toBe(OPS);
    expect(parent.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(parent.message?.blocks?.[0]?.block_id).toBeTruthy();

    const r1 = await client.chat.postMessage({ channel: OPS, thread_ts: parent.ts!, text: 'step 1 done' });
    const r2 = await client.chat.postMessage({ channel: OPS, thread_ts: parent.ts!, text: 'step 2 done', reply_broadcast: true });
    expect(Number(r1.ts)).toBeGreaterThan(Number(parent.ts));
    expect(Number(r2.ts)).toBeGreaterThan(Number(r1.ts));

    expect(emu.channelMessages(OPS).map((m) => m.text)).toEqual(['Deploy started']);
    expect(emu.thread(OPS, parent.ts!).map((m) => m.text)).toEqual(['step 1 done', 'step 2 done']);
    expect(blocksToText(emu.message(OPS, parent.ts!)!.blocks)).toBe('*Deploy* started');

    const replies = await client.conversations.replies({ channel: OPS, ts: parent.ts! });
    expect(replies.messages?.map((m) => m.text)).toEqual(['Deploy started', 'step 1 done', 'step 2 done']);
    expect(replies.messages?.[0]).toMatchObject({ reply_count: 2, thread_ts: parent.ts, latest_reply: r2.ts });

    expect(seen).toEqual([`${OPS}:-:Deploy started`, `${OPS}:${parent.ts}:step 1 done`, `${OPS}:${parent.ts}:step 2 done`]);
    expect(emu.calls('chat.postMessage')).toHaveLength(3);
    expect(emu.calls('chat.postMessage')[0]!.args).toMatchObject({ channel: OPS, blocks: [section('*Deploy* started')] });
  });

  it('refuses unknown channels, bad threads and a bot that was not invited', async () => {
    expect((await slackError(client.chat.postMessage({ channel: 'C0NOPE', text: 'x' }))).error).toBe('channel_not_found');
    expect((await slackError(client.chat.postMessage({ channel: OPS, text: '' }))).error).toBe('no_text');
    expect((await slackError(client.conversations.replies({ channel: OPS, ts: '1.000100' }))).error).toBe('thread_not_found');
    emu.addChannel('C01QUIET', 'quiet', { botIsMember: false });
    expect((await slackError(client.chat.postMessage({ channel: 'C01QUIET', text: 'x' }))).error).toBe('not_in_channel');
    expect(emu.calls().every((c) => c.status === 200)).toBe(true);
  });

  it('updates messages and keeps their history', async () => {
    const posted = await client.chat.postMessage({ channel: OPS, text: 'v1', blocks: [section('version 1')] });
    const updates: string[] = [];
    emu.on('message_updated', (u) => updates.push(`${u.previous.text}->${u.text}`));

    await client.chat.update({ channel: OPS, ts: posted.ts!, text: 'v2', blocks: [section('version 2')] });
    // Text only: Slack drops the previous blocks.
    const res = await client.chat.update({ channel: OPS, ts: posted.ts!, text: 'v3' });
    expect(res.ts).toBe(posted.ts);

    const msg = emu.message(OPS, posted.ts!)!;
    expect(msg.text).toBe('v3');
    expect(msg.blocks).toBeUndefined();
    expect(msg.edited?.user).toBe(emu.botUserId);
    expect(msg.history.map((h) => [h.text, blocksToText(h.blocks)])).toEqual([
      ['v1', 'version 1'],
      ['v2', 'version 2'],
    ]);
    expect(updates).toEqual(['v1->v2', 'v2->v3']);

    expect((await slackError(client.chat.update({ channel: OPS, ts: '1700000000.000100', text: 'x' }))).error).toBe('message_not_found');
    const human = emu.addUserMessage({ channel: OPS, user: ALICE, text: 'hello' });
    expect((await slackError(client.chat.update({ channel: OPS, ts: human.ts, text: 'edited by bot' }))).error).toBe('cant_update_message');
  });

  it('rejects more than 50 blocks and a section text over 3,000 characters with invalid_blocks', async () => {
    const tooMany = Array.from({ length: 51 }, (_, i) => section(`line ${i}`));
    const e1 = await slackError(client.chat.postMessage({ channel: OPS, text: 'x', blocks: tooMany }));
    expect(e1.error).toBe('invalid_blocks');
    expect(e1.response_metadata?.messages).toContain('[ERROR] no more than 50 items allowed [json-pointer:/blocks]');

    const e2 = await slackError(client.chat.postMessage({ channel: OPS, text: 'x', blocks: [section('a'.repeat(3001))] }));
    expect(e2.error).toBe('invalid_blocks');
    expect(e2.response_metadata?.messages).toEqual(['[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]']);

    // The limits themselves are allowed.
    await client.chat.postMessage({ channel: OPS, text: 'x', blocks: Array.from({ length: 50 }, () => section('a'.repeat(3000))) });
    expect(emu.channelMessages(OPS)).toHaveLength(1);
  });

  it('names what is wrong for the other Block Kit limits', async () => {
    const cases: Array<[string, Block[], string]> = [
      ['header over 150', [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }], '/blocks/0/text/text'],
      ['header in mrkdwn', [{ type: 'header', text: { type: 'mrkdwn', text: 'h' } }], '/blocks/0/text/type'],
      [
        'button text over 75',
        [{ type: 'actions', elements: [{ type: 'button', action_id: 'a', text: { type: 'plain_text', text: 'b'.repeat(76) } }] }],
        '/blocks/0/elements/0/text/text',
      ],
      [
        'button text in mrkdwn',
        [{ type: 'actions', elements: [{ type: 'button', action_id: 'a', text: { type: 'mrkdwn', text: 'Go' } }] }],
        '/blocks/0/elements/0/text/type',
      ],
      [
        'action_id over 255',
        [{ type: 'actions', elements: [{ type: 'button', action_id: 'a'.repeat(256), text: { type: 'plain_text', text: 'Go' } }] }],
        '/blocks/0/elements/0/action_id',
      ],
      ['block_id over 255', [{ type: 'divider', block_id: 'b'.repeat(256) }], '/blocks/0/block_id'],
      ['duplicate block_id', [{ type: 'divider', block_id: 'same' }, { type: 'divider', block_id: 'same' }], '/blocks/1/block_id'],
      ['input without element', [{ type: 'input', label: { type: 'plain_text', text: 'Name' } }], '/blocks/0]'],
      ['unknown block type', [{ type: 'sektion', text: { type: 'mrkdwn', text: 'x' } }], '/blocks/0/type'],
    ];
    for (const [name, blocks, pointer] of cases) {
      const e = await slackError(client.chat.postMessage({ channel: OPS, text: name, blocks }));
      expect(e.error, name).toBe('invalid_blocks');
      expect(e.response_metadata?.messages?.some((m) => m.includes(`[json-pointer:${pointer}`)), `${name}: ${e.response_metadata?.messages?.join('; ')}`).toBe(true);
    }
    expect((await slackError(client.chat.postMessage({ channel: OPS, text: 'x'.repeat(40_001) }))).error).toBe('msg_too_long');
    expect(emu.channelMessages(OPS)).toEqual([]);
  });

  it('honours a 429 with Retry-After the way WebClient retries it', async () => {
    const retrying = clientFor(emu, { retryConfig: { retries: 2, factor: 1, minTimeout: 10, maxTimeout: 10 } });
    const rateLimited: number[] = [];
    retrying.on(WebClientEvent.RATE_LIMITED, (seconds: number) => rateLimited.push(seconds));
    emu.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 1 });

    const res = await retrying.chat.postMessage({ channel: OPS, text: 'after the rate limit' });
    expect(res.ok).toBe(true);
    const calls = emu.calls('chat.postMessage');
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[0]!.error).toBe('ratelimited');
    expect(rateLimited).toEqual([1]);
    expect(emu.channelMessages(OPS).map((m) => m.text)).toEqual(['after the rate limit']);
  });

  it('answers injected 5xx with that HTTP status and does not perform the call', async () => {
    emu.failNext('chat.postMessage', { status: 503 });
    let caught: { code?: string; statusCode?: number } | undefined;
    try {
      await client.chat.postMessage({ channel: OPS, text: 'lost' });
    } catch (err) {
      caught = err as typeof caught;
    }
    expect(caught).toMatchObject({ code: 'slack_webapi_http_error', statusCode: 503 });
    expect(emu.channelMessages(OPS)).toEqual([]);

    const retrying = clientFor(emu, { retryConfig: { retries: 1, factor: 1, minTimeout: 10, maxTimeout: 10 } });
    emu.failNext('chat.postMessage', { status: 500 });
    await retrying.chat.postMessage({ channel: OPS, text: 'second try' });
    expect(emu.calls('chat.postMessage').map((c) => c.status)).toEqual([503, 500, 200]);
    expect(emu.channelMessages(OPS).map((m) => m.text)).toEqual(['second try']);
  });

  it('answers an injected error code, and a held-back answer times the client out after the work was done', async () => {
    emu.failNext('views.publish', { error: 'fatal_error' }, 2);
    const view = { type: 'home' as const, blocks: [section('home')] };
    expect((await slackError(client.views.publish({ user_id: ALICE, view }))).error).toBe('fatal_error');
    expect((await slackError(client.views.publish({ user_id: ALICE, view }))).error).toBe('fatal_error');
    expect((await client.views.publish({ user_id: ALICE, view })).ok).toBe(true);

    const impatient = clientFor(emu, { timeout: 200 });
    emu.failNext('chat.postMessage', { hangMs: 10_000 });
    let caught: { code?: string } | undefined;
    try {
      await impatient.chat.postMessage({ channel: OPS, text: 'slow answer' });
    } catch (err) {
      caught = err as typeof caught;
    }
    expect(caught?.code).toBe('slack_webapi_request_error');
    expect(emu.channelMessages(OPS).map((m) => m.text)).toEqual(['slow answer']);
  });

  it('opens modals only with a live, unused trigger ID', async () => {
    const modal = {
      type: 'modal' as const,
      callback_id: 'deploy_modal',
      title: { type: 'plain_text' as const, text: 'Deploy' },
      submit: { type: 'plain_text' as const, text: 'Deploy' },
      blocks: [{ type: 'input', block_id: 'svc', label: { type: 'plain_text', text: 'Service' }, element: { type: 'plain_text_input', action_id: 'name' } }],
    };
    const expired = emu.issueTriggerId({ user: ALICE });
    emu.expireTriggers();
    expect((await slackError(client.views.open({ trigger_id: expired, view: modal }))).error).toBe('expired_trigger_id');
    expect((await slackError(client.views.open({ trigger_id: '123.456.abc', view: modal }))).error).toBe('invalid_trigger_id');

    const trigger = emu.issueTriggerId({ user: ALICE });
    const badTitle = await slackError(client.views.open({ trigger_id: trigger, view: { ...modal, title: { type: 'plain_text', text: 't'.repeat(25) } } }));
    expect(badTitle.error).toBe('invalid_arguments');
    expect(badTitle.response_metadata?.messages).toEqual(['[ERROR] must be less than 25 characters [json-pointer:/view/title/text]']);
    const noLabel = await slackError(
      client.views.open({ trigger_id: trigger, view: { ...modal, blocks: [{ type: 'input', element: { type: 'plain_text_input', action_id: 'n' } }] } }),
    );
    expect(noLabel.response_metadata?.messages).toEqual(['[ERROR] missing required field: label [json-pointer:/view/blocks/0]']);

    const opened = await client.views.open({ trigger_id: trigger, view: modal });
    expect(opened.view?.id).toMatch(/^V/);
    expect((await slackError(client.views.open({ trigger_id: trigger, view: modal }))).error).toBe('exchanged_trigger_id');

    const views = emu.views(ALICE);
    expect(views).toHaveLength(1);
    expect(views[0]).toMatchObject({ id: opened.view!.id, callback_id: 'deploy_modal', type: 'modal', open: true });
  });

  it('expires triggers after triggerTtlMs on the emulator clock', async () => {
    let now = Date.parse('2026-11-28T12:00:00Z');
    const clocked = newEmulator({ triggerTtlMs: 3000, now: () => now });
    await clocked.start();
    try {
      const c = clientFor(clocked);
      const view = { type: 'modal' as const, title: { type: 'plain_text' as const, text: 'T' }, blocks: [section('x')] };
      const t1 = clocked.issueTriggerId();
      now += 3001;
      expect((await slackError(c.views.open({ trigger_id: t1, view }))).error).toBe('expired_trigger_id');
      const t2 = clocked.issueTriggerId();
      now += 2999;
      expect((await c.views.open({ trigger_id: t2, view })).ok).toBe(true);
    } finally {
      await clocked.close();
    }
  });

  it('updates, pushes and publishes views, checking the hash', async () => {
    const modal = { type: 'modal' as const, title: { type: 'plain_text' as const, text: 'Step 1' }, blocks: [section('one')] };
    const opened = await client.views.open({ trigger_id: emu.issueTriggerId({ user: ALICE }), view: modal });
    const id = opened.view!.id!;
    const updated = await client.views.update({ view_id: id, hash: opened.view!.hash, view: { ...modal, title: { type: 'plain_text', text: 'Step 2' } } });
    expect(updated.view?.hash).not.toBe(opened.view!.hash);
    expect((await slackError(client.views.update({ view_id: id, hash: opened.view!.hash, view: modal }))).error).toBe('hash_conflict');
    expect((await slackError(client.views.update({ view_id: 'V0NOPE', view: modal }))).error).toBe('not_found');
    expect(emu.view(id)!.history.map((h) => (h.view.title as { text: string }).text)).toEqual(['Step 1']);
    expect(emu.view(id)!.title?.text).toBe('Step 2');

    const pushed = await client.views.push({ trigger_id: emu.issueTriggerId({ user: ALICE }), view: { ...modal, title: { type: 'plain_text', text: 'Details' } } });
    expect(pushed.view).toMatchObject({ root_view_id: id, previous_view_id: id });
    expect(emu.modalStack(ALICE).map((v) => v.title?.text)).toEqual(['Step 2', 'Details']);

    await client.views.publish({ user_id: BOB, view: { type: 'home', blocks: [section('Welcome')] } });
    await client.views.publish({ user_id: BOB, view: { type: 'home', blocks: [section('Welcome back')] } });
    expect(blocksToText(emu.home(BOB)!.blocks)).toBe('Welcome back');
    expect(emu.home(BOB)!.history).toHaveLength(1);
    expect((await slackError(client.views.publish({ user_id: 'U0NOBODY', view: { type: 'home', blocks: [] } }))).error).toBe('user_not_found');
    const wrongType = await slackError(client.views.publish({ user_id: BOB, view: modal }));
    expect(wrongType.error).toBe('invalid_arguments');
  });

  it('uploads a file with files.uploadV2 into a thread', async () => {
    const parent = await client.chat.postMessage({ channel: OPS, text: 'Backup finished' });
    const shared = emu.waitFor('file_shared');
    const res = await client.files.uploadV2({
      channel_id: OPS,
      thread_ts: parent.ts!,
      content: 'table,rows\nusers,42\n',
      filename: 'report.csv',
      title: 'Backup report',
      initial_comment: 'Report attached',
    });
    expect(res.ok).toBe(true);

    const event = await shared;
    expect(event).toMatchObject({ channel: OPS, thread_ts: parent.ts });
    const replies = emu.thread(OPS, parent.ts!);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ text: 'Report attached', source: 'file_upload' });
    expect(replies[0]!.files?.[0]).toMatchObject({ name: 'report.csv', title: 'Backup report', mimetype: 'text/csv' });

    const [file] = emu.files();
    expect(file!.content?.toString('utf8')).toBe('table,rows\nusers,42\n');
    expect(file).toMatchObject({ completed: true, size: 20, shares: [{ channel: OPS, ts: replies[0]!.ts, thread_ts: parent.ts }] });
    expect(emu.calls().map((c) => c.method)).toEqual([
      'chat.postMessage',
      'files.getUploadURLExternal',
      'file_upload',
      'files.completeUploadExternal',
    ]);
    const info = await client.files.info({ file: file!.id });
    expect(info.file?.name).toBe('report.csv');
  });

  it('records response_url posts as ephemeral or channel messages, replaces originals, and limits uses', async () => {
    const url = emu.issueResponseUrl({ channel: OPS, user: ALICE });
    const post = (body: object) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    expect((await post({ text: 'only you can see this' })).status).toBe(200);
    expect((await post({ text: 'everyone sees this', response_type: 'in_channel' })).status).toBe(200);
    expect(emu.ephemerals(ALICE).map((e) => [e.channel, e.text, e.source])).toEqual([[OPS, 'only you can see this', 'response_url']]);
    expect(emu.channelMessages(OPS).map((m) => [m.text, m.source])).toEqual([['everyone sees this', 'response_url']]);

    const bad = await post({ blocks: [section('a'.repeat(3001))] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ ok: false, error: 'invalid_blocks' });

    expect((await post({ text: 'three' })).status).toBe(200);
    expect((await post({ text: 'four' })).status).toBe(200);
    expect((await post({ text: 'five' })).status).toBe(200);
    const sixth = await post({ text: 'six' });
    expect(sixth.status).toBe(404);
    expect(await sixth.json()).toEqual({ ok: false, error: 'used_url' });
    expect(emu.calls('response_url').map((c) => c.status)).toEqual([200, 200, 400, 200, 200, 200, 404]);

    // replace_original / delete_original act on the message the interaction came from.
    const card = await client.chat.postMessage({ channel: OPS, text: 'Approve?', blocks: [section('Approve the deploy?')] });
    const actionUrl = emu.issueResponseUrl({ channel: OPS, user: ALICE, messageTs: card.ts! });
    await fetch(actionUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ replace_original: true, text: 'Approved by Alice' }) });
    const replaced = emu.message(OPS, card.ts!)!;
    expect(replaced.text).toBe('Approved by Alice');
    expect(replaced.history.map((h) => [h.text, h.replacedBy])).toEqual([['Approve?', 'response_url']]);
    await fetch(actionUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ delete_original: true }) });
    expect(emu.message(OPS, card.ts!)!.deleted).toBe(true);
  });

  it('expires response URLs after 30 minutes on the emulator clock', async () => {
    let now = Date.parse('2026-11-28T12:00:00Z');
    const clocked = newEmulator({ now: () => now });
    await clocked.start();
    try {
      const url = clocked.issueResponseUrl({ channel: OPS, user: ALICE });
      now += 30 * 60 * 1000 + 1;
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'late' }) });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ ok: false, error: 'expired_url' });
      expect(clocked.ephemerals()).toEqual([]);
    } finally {
      await clocked.close();
    }
  });

  it('posts ephemerals to members only', async () => {
    const res = await client.chat.postEphemeral({ channel: INCIDENT, user: ALICE, text: 'psst' });
    expect(res.message_ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(emu.ephemerals(ALICE).map((e) => e.text)).toEqual(['psst']);
    expect(emu.ephemerals(BOB)).toEqual([]);
    expect((await slackError(client.chat.postEphemeral({ channel: INCIDENT, user: BOB, text: 'psst' }))).error).toBe('user_not_in_channel');
  });

  it('creates channels, invites people, sets topics and pins messages as Slack answers them', async () => {
    const created = await client.conversations.create({ name: 'inc-20261205-db-down' });
    const id = created.channel!.id!;
    expect(created.channel).toMatchObject({ name: 'inc-20261205-db-down', is_private: false, is_member: true });
    expect((await slackError(client.conversations.create({ name: 'inc-20261205-db-down' }))).error).toBe('name_taken');
    expect((await slackError(client.conversations.create({ name: 'Bad Name' }))).error).toBe('invalid_name_specials');

    await client.conversations.invite({ channel: id, users: `${ALICE},${BOB}` });
    expect(emu.channelState(id)!.members!.sort()).toEqual([ALICE, BOB].sort());
    expect((await slackError(client.conversations.invite({ channel: id, users: ALICE }))).error).toBe('already_in_channel');
    expect((await slackError(client.conversations.invite({ channel: id, users: 'U0NOBODY' }))).error).toBe('user_not_found');

    await client.conversations.setTopic({ channel: id, topic: 'SEV2 | investigating' });
    expect(emu.channelState(id)!.topic).toBe('SEV2 | investigating');
    expect((await slackError(client.conversations.setTopic({ channel: id, topic: 'x'.repeat(251) }))).error).toBe('too_long');

    const posted = await client.chat.postMessage({ channel: id, text: 'status' });
    await client.pins.add({ channel: id, timestamp: posted.ts! });
    expect(emu.channelState(id)!.pins.map((m) => m.text)).toEqual(['status']);
    expect((await slackError(client.pins.add({ channel: id, timestamp: posted.ts! }))).error).toBe('already_pinned');
    expect((await slackError(client.pins.add({ channel: id, timestamp: '1.000001' }))).error).toBe('message_not_found');
  });

  it('serves users, usergroups and conversations from the seeded directory', async () => {
    const alice = await client.users.info({ user: ALICE });
    expect(alice.user).toMatchObject({ id: ALICE, name: 'alice', real_name: 'Alice Ops', profile: { email: 'alice@example.com' } });
    expect((await slackError(client.users.info({ user: 'U0NOBODY' }))).error).toBe('user_not_found');

    const group = await client.usergroups.users.list({ usergroup: 'S01ONCALL' });
    expect(group.users).toEqual([ALICE, BOB]);
    expect((await slackError(client.usergroups.users.list({ usergroup: 'S0NOPE' }))).error).toBe('no_such_subteam');

    const info = await client.conversations.info({ channel: OPS });
    expect(info.channel).toMatchObject({ id: OPS, name: 'ops', is_channel: true, is_private: false });
    expect((await slackError(client.conversations.info({ channel: 'C0NOPE' }))).error).toBe('channel_not_found');

    // A DM addressed by user ID lands in the bot's IM channel with that user.
    const dm = await client.chat.postMessage({ channel: BOB, text: 'your approval is needed' });
    expect(dm.channel).toMatch(/^D/);
    expect(emu.channelMessages(BOB).map((m) => m.text)).toEqual(['your approval is needed']);
  });

  it('checks the token and answers unknown methods', async () => {
    const wrong = clientFor(emu, { token: 'xoxb-not-the-right-token' });
    expect((await slackError(wrong.chat.postMessage({ channel: OPS, text: 'x' }))).error).toBe('invalid_auth');
    const none = clientFor(emu, { token: undefined });
    expect((await slackError(none.auth.test())).error).toBe('not_authed');
    expect((await slackError(client.apiCall('chat.teleport', { channel: OPS }))).error).toBe('unknown_method');
    expect(emu.channelMessages(OPS)).toEqual([]);
  });

  it('deletes messages, lists history newest first and builds permalinks', async () => {
    const a = await client.chat.postMessage({ channel: OPS, text: 'first' });
    const b = await client.chat.postMessage({ channel: OPS, text: 'second' });
    await client.chat.postMessage({ channel: OPS, thread_ts: a.ts!, text: 'reply' });
    const history = await client.conversations.history({ channel: OPS });
    expect(history.messages?.map((m) => m.text)).toEqual(['second', 'first']);

    const link = await client.chat.getPermalink({ channel: OPS, message_ts: b.ts! });
    expect(link.permalink).toBe(`https://${emu.teamDomain}.slack.com/archives/${OPS}/p${b.ts!.replace('.', '')}`);

    await client.chat.delete({ channel: OPS, ts: b.ts! });
    expect(emu.channelMessages(OPS).map((m) => m.text)).toEqual(['first']);
    expect(emu.message(OPS, b.ts!)!.deleted).toBe(true);
    expect((await slackError(client.chat.delete({ channel: OPS, ts: b.ts! }))).error).toBe('message_not_found');

    const dm = await client.conversations.open({ users: ALICE });
    await client.chat.postMessage({ channel: dm.channel!.id!, text: 'hi Alice' });
    expect(emu.channelMessages(ALICE).map((m) => m.text)).toEqual(['hi Alice']);
  });

  it('builds view_submission state from plain values the way Slack shapes it', async () => {
    const opened = await client.views.open({
      trigger_id: emu.issueTriggerId({ user: BOB }),
      view: {
        type: 'modal',
        callback_id: 'scale',
        title: { type: 'plain_text', text: 'Scale' },
        submit: { type: 'plain_text', text: 'Scale' },
        blocks: [
          {
            type: 'input',
            block_id: 'env',
            label: { type: 'plain_text', text: 'Environment' },
            element: {
              type: 'static_select',
              action_id: 'pick',
              options: [
                { text: { type: 'plain_text', text: 'Staging' }, value: 'staging' },
                { text: { type: 'plain_text', text: 'Production' }, value: 'production' },
              ],
            },
          },
          {
            type: 'input',
            block_id: 'checks',
            label: { type: 'plain_text', text: 'Checks' },
            element: { type: 'checkboxes', action_id: 'boxes', options: [{ text: { type: 'mrkdwn', text: '*Drain*' }, value: 'drain' }] },
          },
          { type: 'input', block_id: 'note', optional: true, label: { type: 'plain_text', text: 'Note' }, element: { type: 'plain_text_input', action_id: 'text' } },
        ],
      },
    });
    const { payload } = emu.viewSubmission({ viewId: opened.view!.id!, values: { env: { pick: 'production' }, checks: { boxes: ['drain'] } } });
    expect(payload).toMatchObject({ type: 'view_submission', user: { id: BOB }, view: { id: opened.view!.id, callback_id: 'scale' } });
    expect((payload.view as { state: unknown }).state).toEqual({
      values: {
        env: { pick: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: 'Production' }, value: 'production' } } },
        checks: { boxes: { type: 'checkboxes', selected_options: [{ text: { type: 'mrkdwn', text: '*Drain*' }, value: 'drain' }] } },
        note: { text: { type: 'plain_text_input', value: null } },
      },
    });
    expect(() => emu.viewSubmission({ viewId: opened.view!.id!, values: { nope: { x: 1 } } })).toThrow(/no block nope/);
  });

  it('accepts JSON bodies as Slack does', async () => {
    const res = await fetch(`${emu.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${emu.botToken}` },
      body: JSON.stringify({ channel: OPS, text: 'from json', blocks: [section('json blocks')] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, channel: OPS });
    expect(blocksToText(emu.channelMessages(OPS)[0]!.blocks)).toBe('json blocks');
  });
});

describe('request signing', () => {
  const secret = 'test-signing-secret';

  it("produces signatures Bolt's verifySlackRequest accepts, and rejects tampering", () => {
    const body = slashCommandBody({
      text: 'deploy api --env staging',
      user_id: ALICE,
      channel_id: OPS,
      trigger_id: '1.2.abc',
      response_url: 'http://127.0.0.1:9/response/x',
    });
    const ts = Math.floor(Date.now() / 1000);
    const headers = signSlackRequest(secret, body, ts);
    expect(headers['x-slack-signature']).toMatch(/^v0=[0-9a-f]{64}$/);
    const verify = (b: string, h: typeof headers, nowMs?: number) =>
      verifySlackRequest({
        signingSecret: secret,
        body: b,
        headers: { 'x-slack-signature': h['x-slack-signature'], 'x-slack-request-timestamp': Number(h['x-slack-request-timestamp']) },
        nowMilliseconds: nowMs,
      });

    expect(() => verify(body, headers)).not.toThrow();
    expect(() => verify(body.replace('staging', 'production'), headers)).toThrow(/signature mismatch/);
    expect(() => verify(body, signSlackRequest('another-secret', body, ts))).toThrow(/signature mismatch/);
    expect(() => verify(body, headers, (ts + 6 * 60) * 1000)).toThrow(/stale/);
  });

  it('builds the interactivity bodies as payload=<json>', () => {
    const blocks: Block[] = [
      { type: 'actions', block_id: 'approval', elements: [{ type: 'button', action_id: 'approve', value: 'req-1', style: 'primary', text: { type: 'plain_text', text: 'Approve' } }] },
    ];
    const body = blockActionsPayload({ user: ALICE, channel: OPS, message: { ts: '1764355200.000100', blocks }, action: { action_id: 'approve' }, trigger_id: 't', response_url: 'http://r' });
    const payload = JSON.parse(new URLSearchParams(body).get('payload')!);
    expect(payload).toMatchObject({
      type: 'block_actions',
      user: { id: ALICE },
      channel: { id: OPS },
      container: { type: 'message', message_ts: '1764355200.000100', channel_id: OPS, is_ephemeral: false },
      actions: [{ action_id: 'approve', block_id: 'approval', value: 'req-1', type: 'button', style: 'primary', text: { text: 'Approve' } }],
      response_url: 'http://r',
    });

    const vs = JSON.parse(new URLSearchParams(viewSubmissionPayload({ user: ALICE, view: { id: 'V1', callback_id: 'cb', private_metadata: 'm' }, trigger_id: 't' })).get('payload')!);
    expect(vs).toMatchObject({ type: 'view_submission', user: { id: ALICE }, view: { id: 'V1', callback_id: 'cb', private_metadata: 'm', state: { values: {} } } });
  });
});

describe('a real Bolt app against the emulator', () => {
  const emu = newEmulator();
  let app: App;
  let url: string;
  const submissions: string[] = [];

  beforeAll(async () => {
    await emu.start();
    app = new App({
      token: emu.botToken,
      signingSecret: emu.signingSecret,
      clientOptions: { slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 } },
      logLevel: LogLevel.ERROR,
    });
    app.command('/autostack', async ({ ack, command, respond, client }) => {
      await ack();
      await respond({ text: `Working on: ${command.text}` });
      await client.chat.postMessage({
        channel: command.channel_id,
        text: 'Deploy requested',
        blocks: [
          section(`<@${command.user_id}> asked: ${command.text}`),
          { type: 'actions', block_id: 'deploy', elements: [{ type: 'button', action_id: 'open_form', text: { type: 'plain_text', text: 'Details' }, value: command.text }] },
        ],
      });
    });
    app.action('open_form', async ({ ack, body, client }) => {
      await ack();
      await client.views.open({
        trigger_id: (body as { trigger_id: string }).trigger_id,
        view: {
          type: 'modal',
          callback_id: 'deploy_form',
          private_metadata: 'api',
          title: { type: 'plain_text', text: 'Deploy' },
          submit: { type: 'plain_text', text: 'Go' },
          blocks: [{ type: 'input', block_id: 'env', label: { type: 'plain_text', text: 'Environment' }, element: { type: 'plain_text_input', action_id: 'value' } }],
        },
      });
    });
    app.view('deploy_form', async ({ ack, view }) => {
      const env = view.state.values.env?.value?.value ?? '';
      submissions.push(env);
      if (env !== 'staging' && env !== 'production') {
        await ack({ response_action: 'errors', errors: { env: 'Choose staging or production' } });
        return;
      }
      await ack();
    });
    const server = await app.start({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(async () => {
    await app.stop();
    await emu.close();
  });
  afterEach(() => {
    emu.removeAllListeners();
  });

  it('accepts a correctly signed slash command and rejects a tampered one', async () => {
    const request = emu.slashCommand({ user: ALICE, channel: OPS, text: 'deploy api' });
    const rejected = await sendSigned(url, emu.signingSecret, request.body, { badSignature: true });
    expect(rejected.status).toBe(401);
    const stale = await emu.deliver(url, request.body, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    expect(emu.calls('chat.postMessage')).toEqual([]);

    const posted = emu.waitFor('message', (m) => m.text === 'Deploy requested');
    const ephemeral = emu.waitFor('ephemeral');
    const accepted = await emu.deliver(url, request.body);
    expect(accepted.status).toBe(200);
    expect((await ephemeral).text).toBe('Working on: deploy api');
    const message = await posted;
    expect(blocksToText(message.blocks)).toBe(`<@${ALICE}> asked: deploy api\n[Details]`);

    // Click the button: the app exchanges the trigger for a modal.
    const opened = emu.waitFor('view_opened');
    const click = emu.blockAction({ user: ALICE, channel: OPS, messageTs: message.ts, actionId: 'open_form' });
    expect((await emu.deliver(url, click.body)).status).toBe(200);
    const { view } = await opened;
    expect(view).toMatchObject({ callback_id: 'deploy_form', user: ALICE, open: true });

    // Submit it: a validation error keeps it open, a valid value closes it.
    const first = await emu.submitView(url, { viewId: view.id, values: { env: { value: 'prod' } } });
    expect(first.outcome).toBe('errors');
    expect(first.errors).toEqual({ env: 'Choose staging or production' });
    expect(emu.view(view.id)!.open).toBe(true);
    const second = await emu.submitView(url, { viewId: view.id, values: { env: { value: 'staging' } } });
    expect(second.outcome).toBe('closed');
    expect(emu.view(view.id)!.open).toBe(false);
    expect(submissions).toEqual(['prod', 'staging']);
  });
});
