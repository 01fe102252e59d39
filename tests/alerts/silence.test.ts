/**
 * Acknowledge, Silence and Unsilence end to end: Alertmanager webhooks into the bot's server,
 * signed clicks on the alert's buttons in the Slack emulator, and the silences in the run's real
 * Alertmanager (scripts/build-alertmanager.sh), read back through its v2 API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsModule } from '../../commands/alerts/index.ts';
import { alertGroups, groupId } from '../../commands/shared/alert-store.ts';
import type { AlertmanagerPayload } from '../../commands/alerts/webhook.ts';
import { freePort } from '../../dev/local-redis.ts';
import { INCIDENT, USERS, buttonsOf, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import { testServices, uniqueName } from '../harness/env.ts';
import { payload } from './payloads.ts';

const TOKEN = `am-${uniqueName('tok')}`;
const HOUR_MS = 3_600_000;
let t: TestBot;
let alertmanager: string;

interface Silence {
  id: string;
  status: { state: string };
  matchers: Array<{ name: string; value: string; isRegex: boolean; isEqual: boolean }>;
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

beforeAll(async () => {
  alertmanager = testServices().alertmanagerUrl;
  t = await startTestBot({
    modules: [alertsModule],
    runWorkers: false,
    config: { alerts: { token: TOKEN, triage: { enabled: false }, alertmanager: { url: alertmanager } } },
  });
});

afterAll(async () => {
  await t?.stop();
});

async function fire(body: AlertmanagerPayload, bot = t): Promise<string> {
  const response = await fetch(`${bot.url.replace(/\/slack\/events$/, '')}/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return String(((await response.json()) as { ts: string }).ts);
}

/** A firing HighErrorRate group of one alert, told apart from other tests' by its `run` label. */
function errorRate(run: string): AlertmanagerPayload {
  return payload({
    groupKey: `{}:{alertname="HighErrorRate",run="${run}"}`,
    alertname: 'HighErrorRate',
    severity: 'critical',
    alerts: [{ startsAt: '2026-11-28T10:00:00.000Z', fingerprint: `f${run}`.slice(0, 16), labels: { app: 'backend', run } }],
  });
}

/** The silences Alertmanager lists for this run's alert. */
async function silencesFor(run: string): Promise<Silence[]> {
  const response = await fetch(`${alertmanager}/api/v2/silences`);
  expect(response.status).toBe(200);
  return ((await response.json()) as Silence[]).filter((s) => s.matchers.some((m) => m.name === 'run' && m.value === run));
}

const parent = (ts: string) => t.emulator.message(INCIDENT, ts)!;
const replies = (ts: string) => t.emulator.thread(INCIDENT, ts).filter((m) => m.ts !== ts);
const labels = (ts: string) => buttonsOf(parent(ts).blocks).map((b) => b.label);
const record = (run: string) => alertGroups(t.bot.deps.clients.redis, t.config.redis.prefix).get(groupId(errorRate(run).groupKey));

describe('Silence and Unsilence', () => {
  it('a Silence 1h click creates a silence Alertmanager lists with the alert\'s labels, the clicker and a link to the thread; Unsilence expires it', async () => {
    const run = uniqueName('r');
    const ts = await fire(errorRate(run));
    expect(labels(ts)).toEqual(['Logs (backend)', 'Roll back backend', 'db check', 'Acknowledge', 'Silence 1h', 'Silence 4h', 'Alert source', 'Alertmanager']);

    const before = Date.now();
    await t.click(USERS.operator, { channel: INCIDENT, ts }, 'Silence 1h');
    const after = Date.now();

    const [silence, ...others] = await silencesFor(run);
    expect(others).toEqual([]);
    expect(silence!.status.state).toBe('active');
    expect(silence!.matchers.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'alertname', value: 'HighErrorRate', isRegex: false, isEqual: true },
      { name: 'app', value: 'backend', isRegex: false, isEqual: true },
      { name: 'run', value: run, isRegex: false, isEqual: true },
      { name: 'severity', value: 'critical', isRegex: false, isEqual: true },
    ]);
    expect(silence!.createdBy).toBe('operator');
    expect(silence!.comment).toMatch(new RegExp(`^Silenced from Slack for 1h while it is worked on; thread: https://[a-z0-9-]+\\.slack\\.com/archives/${INCIDENT}/p${ts.replace('.', '')}$`));
    const endsAt = Date.parse(silence!.endsAt);
    expect(endsAt).toBeGreaterThanOrEqual(before + HOUR_MS - 1000);
    expect(endsAt).toBeLessThanOrEqual(after + HOUR_MS);

    // The thread says who silenced until when, with Unsilence; the parent shows it and offers no second silence.
    const [said] = replies(ts);
    expect(t.text(said!)).toMatch(new RegExp(`<@${USERS.operator}> silenced this alert in Alertmanager for 1h, until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC`));
    expect(t.text(said!)).toContain(`Alertmanager silence ${silence!.id}`);
    expect(buttonsOf(said!.blocks).map((b) => b.label)).toEqual(['Unsilence']);
    expect(t.text(parent(ts))).toContain(`Silenced in Alertmanager by <@${USERS.operator}> until`);
    expect(labels(ts)).not.toContain('Silence 1h');
    const kept = (await record(run))?.silence;
    expect(kept).toMatchObject({ id: silence!.id, by: USERS.operator, replyTs: said!.ts });
    expect(Date.parse(kept!.endsAt)).toBe(endsAt);
    expect(t.lastEphemeral(USERS.operator) && t.text(t.lastEphemeral(USERS.operator)!)).toContain(`silence ${silence!.id}`);

    // A second Silence (typed, as the button is gone) changes nothing and says who silenced.
    await t.command(USERS.operator, `alerts silence ${groupId(errorRate(run).groupKey)} --for 4h`, INCIDENT);
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/already silenced by <@U0OPERATOR> until/);
    expect(await silencesFor(run)).toHaveLength(1);

    await t.click(USERS.operator, { channel: INCIDENT, ts: said!.ts }, 'Unsilence');
    const [expired] = await silencesFor(run);
    expect(expired!.id).toBe(silence!.id);
    expect(expired!.status.state).toBe('expired');
    const ended = replies(ts)[0]!;
    expect(t.text(ended)).toContain(`<@${USERS.operator}> ended the silence at`);
    expect(buttonsOf(ended.blocks)).toEqual([]);
    expect(labels(ts)).toContain('Silence 4h');
    expect((await record(run))?.silence).toBeUndefined();

    const audit = await t.bot.audit.latest(20);
    expect(audit).toContainEqual(expect.objectContaining({ actor: USERS.operator, action: 'alert silenced', detail: `Alertmanager silence ${silence!.id}` }));
    expect(audit).toContainEqual(expect.objectContaining({ actor: USERS.operator, action: 'alert unsilenced', result: 'expired', detail: `Alertmanager silence ${silence!.id}` }));
    expect(audit).toContainEqual(expect.objectContaining({ actor: USERS.operator, action: 'alerts silence', result: 'error' }));
  });

  it('a silence that ended leaves its reply without Unsilence once a new one is made (that button would end the new one)', async () => {
    const run = uniqueName('r');
    const ts = await fire(errorRate(run));
    await t.click(USERS.operator, { channel: INCIDENT, ts }, 'Silence 1h');
    const first = (await record(run))!.silence!;
    // As if its hour had passed (Alertmanager keeps its own copy; the bot goes by the end it recorded).
    const store = alertGroups(t.bot.deps.clients.redis, t.config.redis.prefix);
    await store.save({ ...(await record(run))!, silence: { ...first, endsAt: new Date(Date.now() - 60_000).toISOString() } });
    await t.command(USERS.operator, `alerts silence ${groupId(errorRate(run).groupKey)} --for 4h`, INCIDENT);
    const second = (await record(run))!.silence!;
    expect(second.id).not.toBe(first.id);
    const [old, current] = replies(ts);
    expect(old!.ts).toBe(first.replyTs);
    expect(t.text(old!)).toContain('that silence has ended');
    expect(buttonsOf(old!.blocks)).toEqual([]);
    expect(current!.ts).toBe(second.replyTs);
    expect(buttonsOf(current!.blocks).map((b) => b.label)).toEqual(['Unsilence']);
    expect((await silencesFor(run)).filter((s) => s.status.state === 'active').map((s) => s.id).sort()).toEqual([first.id, second.id].sort());
  });

  it('when Slack cannot show a new silence, expires it again: no active silence exists that the thread does not show', async () => {
    const run = uniqueName('r');
    const ts = await fire(errorRate(run));
    t.emulator.failNext('chat.postMessage', { error: 'channel_not_found' });
    await t.click(USERS.operator, { channel: INCIDENT, ts }, 'Silence 4h');
    expect((await silencesFor(run)).map((s) => s.status.state)).toEqual(['expired']);
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/could not record it \(.*\), so it was expired again/);
    expect((await record(run))?.silence).toBeUndefined();
    expect(replies(ts)).toEqual([]);
    expect(labels(ts)).toContain('Silence 4h');
  });

  it("a viewer's Silence click is refused with the role it needs and creates nothing", async () => {
    const run = uniqueName('r');
    const ts = await fire(errorRate(run));
    await t.click(USERS.viewer, { channel: INCIDENT, ts }, 'Silence 4h');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/not allowed to run `alerts silence`: it needs the operator role and you are viewer/);
    expect(await silencesFor(run)).toEqual([]);
    expect((await record(run))?.silence).toBeUndefined();
    expect(replies(ts)).toEqual([]);
    expect(labels(ts)).toContain('Silence 4h');
    expect(await t.bot.audit.latest(10)).toContainEqual(expect.objectContaining({ actor: USERS.viewer, action: 'alerts silence', result: 'denied' }));
  });
});

describe('Acknowledge', () => {
  it('records who acknowledged on the message and in the thread, audited; a second acknowledgement changes nothing', async () => {
    const run = uniqueName('r');
    const ts = await fire(errorRate(run));
    await t.click(USERS.viewer, { channel: INCIDENT, ts }, 'Acknowledge');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/needs the operator role/);
    expect((await record(run))?.acknowledged).toBeUndefined();

    await t.click(USERS.operator, { channel: INCIDENT, ts }, 'Acknowledge');
    expect((await record(run))?.acknowledged).toMatchObject({ by: USERS.operator });
    expect(t.text(parent(ts))).toContain(`Acknowledged by <@${USERS.operator}> at`);
    expect(labels(ts)).not.toContain('Acknowledge');
    expect(replies(ts).map((m) => t.text(m))).toEqual([`:eyes: <@${USERS.operator}> acknowledged this alert and is on it.`]);
    const audit = await t.bot.audit.latest(20);
    expect(audit).toContainEqual(expect.objectContaining({ actor: USERS.operator, action: 'alerts ack', result: 'ok', args: { args: [groupId(errorRate(run).groupKey)], flags: {} } }));
    expect(audit).toContainEqual(expect.objectContaining({ actor: USERS.operator, action: 'button alerts.ack', result: 'ok' }));

    // A later notification of the same firing group keeps the acknowledgement on the message.
    const more = errorRate(run);
    more.alerts.push({ ...more.alerts[0]!, fingerprint: `g${run}`.slice(0, 16), labels: { ...more.alerts[0]!.labels, app: 'worker' } });
    await fire(more);
    expect(t.text(parent(ts))).toContain(`Acknowledged by <@${USERS.operator}> at`);

    await t.command(USERS.operator, `alerts ack ${groupId(more.groupKey)}`, INCIDENT);
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/already acknowledged by <@U0OPERATOR>/);
    expect(replies(ts).filter((m) => t.text(m).includes('acknowledged'))).toHaveLength(1);

    // Typed by alert name, it must name one group: this file has several HighErrorRate groups firing.
    await t.command(USERS.operator, 'alerts ack HighErrorRate', INCIDENT);
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/\d+ HighErrorRate alert groups are firing: use the buttons in their threads/);

    // Resolved and firing again, it is a new page: the acknowledgement is cleared and asked again.
    await fire({ ...more, status: 'resolved', alerts: more.alerts.map((a) => ({ ...a, status: 'resolved' as const, endsAt: '2026-11-28T10:30:00.000Z' })) });
    await fire({ ...more, alerts: more.alerts.map((a) => ({ ...a, startsAt: '2026-11-28T11:00:00.000Z' })) });
    expect(t.text(parent(ts))).not.toContain('Acknowledged by');
    expect(labels(ts)).toContain('Acknowledge');
    expect((await record(run))?.acknowledged).toBeUndefined();
  });
});

describe('when Alertmanager fails', () => {
  it('says so in the thread and leaves no silence and no record of one', async () => {
    const down = await startTestBot({
      modules: [alertsModule],
      runWorkers: false,
      emulator: t.emulator,
      config: { alerts: { token: TOKEN, triage: { enabled: false }, alertmanager: { url: `http://127.0.0.1:${await freePort()}` } } },
    });
    try {
      const run = uniqueName('r');
      const body = errorRate(run);
      const ts = await fire(body, down);
      await down.click(USERS.operator, { channel: INCIDENT, ts }, 'Silence 1h');
      const [warning] = replies(ts);
      expect(t.text(warning!)).toMatch(new RegExp(`:warning: <@${USERS.operator}>: Silence 1h failed, nothing changed. Alertmanager at http://127\\.0\\.0\\.1:\\d+ could not be reached to create a silence`));
      expect(down.ephemeralTexts(USERS.operator).at(-1)).toMatch(/Silence 1h failed, nothing changed/);
      expect((await alertGroups(down.bot.deps.clients.redis, down.config.redis.prefix).get(groupId(body.groupKey)))?.silence).toBeUndefined();
      expect(buttonsOf(down.emulator.message(INCIDENT, ts)!.blocks).map((b) => b.label)).toContain('Silence 1h');
      expect(await silencesFor(run)).toEqual([]);
    } finally {
      await down.stop();
    }
  });
});
