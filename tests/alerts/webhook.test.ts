/**
 * POST /alerts end to end: Alertmanager webhooks over real HTTP into the bot's server (Bolt's
 * receiver with the module's route), status threads in the Slack emulator's incident channel,
 * state in the test Redis, and the response buttons through signed interactions, against the
 * test Kubernetes control plane (the bot under its Role), the fake backend and the test PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeClientsFrom } from '../../src/clients.ts';
import { alertsModule } from '../../commands/alerts/index.ts';
import { incidentModule } from '../../commands/index.ts';
import { alertGroups, groupId } from '../../commands/shared/alert-store.ts';
import type { AlertmanagerPayload } from '../../commands/alerts/webhook.ts';
import { rollbackTiming } from '../../commands/incident/operations.ts';
import { DEFAULT_API_TOKEN, FakeBackend } from '../harness/fake-backend.ts';
import { createDeploymentWithHistory, deploymentImage, deploymentPods, kubeNamespace, setPodLogs, waitForRollout } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';
import { INCIDENT, USERS, buttonsOf, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import { createDatabase, uniqueName } from '../harness/env.ts';
import { payload } from './payloads.ts';

const TOKEN = `am-${uniqueName('tok')}`;
const ONCALL = 'S0ONCALL';
let kns: TestNamespace;
let backend: FakeBackend;
let t: TestBot;
let base: string;

beforeAll(async () => {
  rollbackTiming.pollMs = 10;
  rollbackTiming.healthDelayMs = 10;
  kns = await kubeNamespace();
  backend = await FakeBackend.start();
  const db = await createDatabase('alertsbot');
  await createDeploymentWithHistory(kns, { name: 'backend', revisions: [{ image: 'registry.example/autostack/backend:1.9' }, { image: 'registry.example/autostack/backend:2.0' }] });
  const kc = kns.bot;
  t = await startTestBot({
    modules: [incidentModule, alertsModule],
    config: {
      kubernetes: { namespace: kns.name },
      backend: { url: backend.url, apiToken: DEFAULT_API_TOKEN },
      database: { url: db.url },
      // The status thread alone: triage's replies in the thread are tests/alerts/triage.test.ts's.
      alerts: { token: TOKEN, oncallUsergroup: ONCALL, triage: { enabled: false } },
    },
    overrides: { kube: () => kubeClientsFrom(kc) },
  });
  base = t.url.replace(/\/slack\/events$/, '');
});

afterAll(async () => {
  await t?.stop();
  await backend?.close();
});

async function send(body: unknown, authorization: string | null = `Bearer ${TOKEN}`): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function topLevel() {
  return t.emulator.channelMessages(INCIDENT);
}

function thread(ts: string) {
  return t.emulator.thread(INCIDENT, ts).filter((m) => m.ts !== ts);
}

function message(ts: string) {
  return t.emulator.message(INCIDENT, ts)!;
}

const at = (minute: number) => `2026-11-28T10:${String(minute).padStart(2, '0')}:00.000Z`;

function errorRate(groupKey: string, status: 'firing' | 'resolved', startsAt = at(0)): AlertmanagerPayload {
  return payload({
    groupKey,
    alertname: 'HighErrorRate',
    severity: 'critical',
    summary: 'High error rate: 7.2% of requests answer 5xx (threshold 5%)',
    alerts: [{ status, startsAt, endsAt: status === 'resolved' ? at(30) : undefined, fingerprint: 'aa11bb22cc33dd44', labels: { app: 'backend' } }],
  });
}

describe('POST /alerts: authentication and input', () => {
  it('answers 401 without the configured bearer token and posts nothing', async () => {
    const before = topLevel().length;
    const body = errorRate(`{}:{alertname="HighErrorRate",t="${uniqueName('g')}"}`, 'firing');
    for (const authorization of [null, 'Bearer wrong-token', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, `Bearer ${TOKEN}x`, TOKEN]) {
      const answer = await send(body, authorization);
      expect(answer.status, String(authorization)).toBe(401);
      expect(answer.body).toEqual({ error: 'unauthorized' });
    }
    expect(topLevel().length).toBe(before);
    expect(await alertGroups(t.bot.deps.clients.redis, t.config.redis.prefix).get(groupId(body.groupKey))).toBeUndefined();
  });

  it('answers 400 for a body that is not an Alertmanager payload', async () => {
    expect((await send('{not json')).status).toBe(400);
    const wrongVersion = { ...errorRate('{}:{x="1"}', 'firing'), version: '3' };
    const answer = await send(wrongVersion);
    expect(answer.status).toBe(400);
    expect(String(answer.body.error)).toContain('version');
    const { alerts: _alerts, ...noAlerts } = errorRate('{}:{x="1"}', 'firing');
    expect((await send(noAlerts)).status).toBe(400);
  });
});

describe('POST /alerts: one status thread per alert group', () => {
  it('opens a thread when the group fires, updates it (not a new post) when it resolves, and reopens the same thread when it fires again', async () => {
    const groupKey = `{}/{severity="critical"}:{alertname="HighErrorRate",run="${uniqueName('g')}"}`;
    const before = topLevel().length;

    const opened = await send(errorRate(groupKey, 'firing'));
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({ ok: true, result: 'opened', status: 'firing', channel: INCIDENT });
    const ts = String(opened.body.ts);
    expect(topLevel().length).toBe(before + 1);
    const parent = message(ts);
    const firingText = t.text(parent);
    expect(JSON.stringify(parent.blocks)).toContain(`<!subteam^${ONCALL}>`);
    expect(firingText).toContain('[FIRING:1] High Error Rate');
    expect(firingText).toContain('High error rate: 7.2% of requests answer 5xx');
    expect(firingText).toContain('Page on-call engineer');
    expect(buttonsOf(parent.blocks).map((b) => b.label)).toEqual(['Logs (backend)', 'Roll back backend', 'db check', 'Acknowledge', 'Alert source', 'Alertmanager']);

    const resolved = await send(errorRate(groupKey, 'resolved'));
    expect(resolved.body).toMatchObject({ result: 'updated', status: 'resolved', ts });
    expect(topLevel().length).toBe(before + 1);
    const updated = message(ts);
    expect(updated.history).toHaveLength(1);
    expect(t.text(updated)).toContain('[RESOLVED] High Error Rate');
    expect(JSON.stringify(updated.blocks)).not.toContain('subteam');
    expect(buttonsOf(updated.blocks).map((b) => b.label)).toEqual(['Alert source', 'Alertmanager']);
    expect(thread(ts).map((m) => m.text)).toEqual([expect.stringMatching(/^Resolved: High Error Rate/)]);
    expect(await alertGroups(t.bot.deps.clients.redis, t.config.redis.prefix).open()).not.toContainEqual(expect.objectContaining({ groupKey }));

    const again = await send(errorRate(groupKey, 'firing', at(45)));
    expect(again.body).toMatchObject({ result: 'updated', status: 'firing', ts });
    expect(topLevel().length).toBe(before + 1);
    expect(message(ts).history).toHaveLength(2);
    expect(t.text(message(ts))).toContain('[FIRING:1] High Error Rate');
    const replies = thread(ts);
    expect(replies).toHaveLength(2);
    expect(JSON.stringify(replies[1]!.blocks)).toMatch(new RegExp(`<!subteam\\^${ONCALL}> :rotating_light: Firing again: High Error Rate`));
    expect(await alertGroups(t.bot.deps.clients.redis, t.config.redis.prefix).open()).toContainEqual(expect.objectContaining({ groupKey, status: 'firing' }));
  });

  it('treats duplicate deliveries (retries, repeat_interval, concurrent replicas) as one: nothing is posted or edited again', async () => {
    const groupKey = `{}:{alertname="HighRateLimiting",run="${uniqueName('g')}"}`;
    const body = payload({
      groupKey,
      alertname: 'HighRateLimiting',
      severity: 'medium',
      alerts: [{ startsAt: at(5), fingerprint: 'ee55ff6600aa11bb', labels: { app: 'backend' } }],
    });
    const before = topLevel().length;
    // Alertmanager retrying a notification whose answer it did not get, three times at once.
    const answers = await Promise.all([send(body), send(body), send(body)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.map((a) => a.body.result).sort()).toEqual(['duplicate', 'duplicate', 'opened']);
    expect(topLevel().length).toBe(before + 1);
    const ts = String(answers.find((a) => a.body.result === 'opened')!.body.ts);
    expect(answers.every((a) => a.body.ts === ts)).toBe(true);
    // A medium alert does not page.
    expect(message(ts).text).not.toContain('subteam');
    expect(buttonsOf(message(ts).blocks).map((b) => b.label)).toEqual(['Show top offenders', 'Block IP', 'Logs (backend)', 'Acknowledge', 'Alert source', 'Alertmanager']);

    // The same notification again later (repeat_interval): still nothing new.
    const repeat = await send(body);
    expect(repeat.body).toMatchObject({ result: 'duplicate', ts });
    expect(message(ts).history).toHaveLength(0);
    expect(thread(ts)).toHaveLength(0);

    // Resolved, then a late retry of the old "firing" arrives: it does not reopen the alert.
    const resolved = payload({ groupKey, alertname: 'HighRateLimiting', severity: 'medium', alerts: [{ status: 'resolved', startsAt: at(5), endsAt: at(20), fingerprint: 'ee55ff6600aa11bb', labels: { app: 'backend' } }] });
    expect((await send(resolved)).body).toMatchObject({ result: 'updated', status: 'resolved' });
    const late = await send(body);
    expect(late.body).toMatchObject({ result: 'duplicate', status: 'resolved', ts });
    expect(t.text(message(ts))).toContain('[RESOLVED]');
    expect(thread(ts)).toHaveLength(1);
  });

  it('adds a thread reply when more alerts of the group fire, updating the count in place', async () => {
    const groupKey = `{}:{alertname="DatabaseConnectionPoolExhausted",run="${uniqueName('g')}"}`;
    const one = { startsAt: at(1), fingerprint: '0000000000000001', labels: { instance: 'db-0:9187' } };
    const two = { startsAt: at(3), fingerprint: '0000000000000002', labels: { instance: 'db-1:9187' } };
    const first = await send(payload({ groupKey, alertname: 'DatabaseConnectionPoolExhausted', severity: 'critical', alerts: [one] }));
    const ts = String(first.body.ts);
    expect(buttonsOf(message(ts).blocks)[0]!.label).toBe('db check');
    await send(payload({ groupKey, alertname: 'DatabaseConnectionPoolExhausted', severity: 'critical', alerts: [one, two] }));
    expect(t.text(message(ts))).toContain('[FIRING:2] Database Connection Pool Exhausted');
    expect(thread(ts).map((m) => t.text(m))).toEqual([expect.stringMatching(/Now 2 firing \(was 1\)[\s\S]*New: instance=db-1:9187/)]);
  });
});

describe('alert thread buttons', () => {
  it('"db check" runs the database check; "Roll back" shows the rollback plan and rolls back after confirmation', async () => {
    const groupKey = `{}:{alertname="HighErrorRate",run="${uniqueName('g')}"}`;
    const ts = String((await send(errorRate(groupKey, 'firing'))).body.ts);

    await t.click(USERS.viewer, { channel: INCIDENT, ts }, 'db check');
    await t.eventually(() => [...t.ephemeralTexts(USERS.viewer), ...topLevel().map((m) => t.text(m))].find((text) => text.includes('Database check')), 'the db check answer');

    await t.click(USERS.viewer, { channel: INCIDENT, ts }, 'Roll back backend');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/needs the operator role/);

    await t.click(USERS.operator, { channel: INCIDENT, ts }, 'Roll back backend');
    const plan = t.lastEphemeral(USERS.operator)!;
    expect(t.text(plan)).toContain('Roll back Deployment backend from revision 2 to revision 1');
    expect(await deploymentImage(kns, 'backend')).toBe('registry.example/autostack/backend:2.0');
    await t.click(USERS.operator, { channel: INCIDENT, ts: plan.ts }, 'Confirm');
    await t.eventually(async () => (await deploymentImage(kns, 'backend')) === 'registry.example/autostack/backend:1.9', 'the rollback');
    const job = await t.eventually(() => topLevel().find((m) => t.text(m).includes('Rollback of backend') && t.text(m).includes('Succeeded')), 'the rollback job thread', 20_000);
    expect(t.text(job)).toContain(`<@${USERS.operator}>`);
  });

  it('"Show top offenders" runs ratelimit top on the app\'s logs', async () => {
    await waitForRollout(kns, 'backend');
    const [pod] = await deploymentPods(kns, 'backend');
    await setPodLogs(kns, pod!.metadata!.name!, { backend: { lines: Array.from({ length: 7 }, (_, i) => `INFO:     203.0.113.9:${41000 + i} - "POST /login HTTP/1.1" 429 Too Many Requests`) } });
    const groupKey = `{}:{alertname="HighRateLimiting",run="${uniqueName('g')}"}`;
    const ts = String((await send(payload({ groupKey, alertname: 'HighRateLimiting', severity: 'medium', alerts: [{ startsAt: at(2), fingerprint: '1234abcd1234abcd', labels: { app: 'backend' } }] }))).body.ts);
    await t.click(USERS.viewer, { channel: INCIDENT, ts }, 'Show top offenders');
    const report = await t.eventually(() => [...t.ephemeralTexts(USERS.viewer), ...topLevel().map((m) => t.text(m))].find((text) => text.includes('203.0.113.9')), 'the top offenders');
    expect(report).toMatch(/203\.0\.113\.9\s+7/);
  });
});
