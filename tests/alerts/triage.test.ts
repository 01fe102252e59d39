/**
 * Automatic triage end to end: Alertmanager webhooks with the bearer token over real HTTP into the
 * bot, the plan's steps run by the triage job against the test services (the Kubernetes control
 * plane for S1 and S2, the fake backend for S3, a stopped PostgreSQL for S4, moto's DynamoDB for
 * S5), the summary and its decision buttons read from the Slack emulator's incident channel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeClientsFrom } from '../../src/clients.ts';
import { freePort } from '../../dev/local-redis.ts';
import { alertsModule } from '../../commands/alerts/index.ts';
import { incidentModule } from '../../commands/index.ts';
import { tfModule } from '../../commands/tf/index.ts';
import { rollbackTiming } from '../../commands/incident/operations.ts';
import type { AlertmanagerPayload } from '../../commands/alerts/webhook.ts';
import { DEFAULT_API_TOKEN, FakeBackend } from '../harness/fake-backend.ts';
import { createDeployment, createDeploymentWithHistory, deploymentImage, deploymentPods, kubeNamespace, setPodLogs } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';
import { INCIDENT, OPS, USERS, buttonsOf, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import { awsClients, uniqueName } from '../harness/env.ts';
import { putCapturedDynamoLock, tfWorld } from '../tf/fixtures.ts';
import type { TfWorld } from '../tf/fixtures.ts';
import { payload } from './payloads.ts';
import { nginxTime } from '../incident/ratelimit/log-lines.ts';

const TOKEN = `am-${uniqueName('tok')}`;
const at = (minute: number) => `2026-11-28T10:${String(minute).padStart(2, '0')}:00.000Z`;

let kns: TestNamespace;
let backend: FakeBackend;
let world: TfWorld;
let a: TestBot;
let deadDatabase: string;

function botConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kubernetes: { namespace: kns.name },
    backend: { url: backend.url, apiToken: DEFAULT_API_TOKEN },
    database: { url: deadDatabase },
    rateLimit: { app: 'gateway', logSources: ['edge'] },
    terraform: world.terraform,
    ...extra,
    alerts: { token: TOKEN, triage: { refreshInterval: '3s' }, ...(extra.alerts as object) },
  };
}

beforeAll(async () => {
  rollbackTiming.pollMs = 10;
  rollbackTiming.healthDelayMs = 10;
  kns = await kubeNamespace();
  backend = await FakeBackend.start();
  world = await tfWorld(awsClients());
  // S4: nothing listens there, as when the database is stopped.
  deadDatabase = `postgres://autostack:unused@127.0.0.1:${await freePort()}/autostack`;
  // S1: revision 2 of the backend crash-loops; its logs say why.
  await createDeploymentWithHistory(kns, { name: 'backend', revisions: [{ image: 'registry.example/autostack/backend:1.9' }, { image: 'registry.example/autostack/backend:2.0', crashing: true }] });
  const crashing = await waitFor(async () => (await deploymentPods(kns, 'backend')).find((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff'));
  for (const pod of await deploymentPods(kns, 'backend')) {
    const lines = pod.metadata!.name === crashing.metadata!.name ? ['starting worker', 'error: could not connect to the database: connection refused'] : ['GET /health 200'];
    await setPodLogs(kns, pod.metadata!.name!, { backend: { lines } });
  }
  // S2: a burst of 429s from one client at the gateway over two minutes (a chart); none at the edge.
  await createDeployment(kns, { name: 'gateway', image: 'registry.example/autostack/gateway:1.0' });
  await createDeployment(kns, { name: 'edge', image: 'registry.example/autostack/edge:1.0' });
  const [gateway] = await deploymentPods(kns, 'gateway');
  const burst = Math.floor(Date.now() / 60_000) * 60_000 - 2 * 60_000;
  const gatewayLines = Array.from({ length: 9 }, (_, i) => {
    const time = burst + (i < 6 ? 0 : 60_000) + i * 1000;
    return { time: new Date(time), text: `203.0.113.7 - - [${nginxTime(time)}] "POST /login HTTP/1.1" 429 0 "-" "curl"` };
  });
  await setPodLogs(kns, gateway!.metadata!.name!, { gateway: { lines: gatewayLines } });
  const [edge] = await deploymentPods(kns, 'edge');
  await setPodLogs(kns, edge!.metadata!.name!, { edge: { lines: ['INFO:     198.51.100.4:50000 - "GET / HTTP/1.1" 200 OK'] } });
  // S3: the backend sends the same OAuth state every time.
  backend.setOAuthFailure('github', 'constant-state');
  // S5: a lock Terraform left behind long ago.
  await putCapturedDynamoLock(world);
  const kc = kns.bot;
  a = await startTestBot({ modules: [incidentModule, tfModule, alertsModule], config: botConfig(), overrides: { kube: () => kubeClientsFrom(kc) } });
}, 240_000);

afterAll(async () => {
  await a?.stop();
  await backend?.close();
});

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function send(bot: TestBot, body: AlertmanagerPayload): Promise<Record<string, unknown>> {
  const base = bot.url.replace(/\/slack\/events$/, '');
  const response = await fetch(`${base}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

function replies(bot: TestBot, ts: string) {
  return bot.emulator.thread(INCIDENT, ts).filter((m) => m.ts !== ts);
}

/** A message's text without bold markers (headings render bold). */
function plain(bot: TestBot, message: { text?: string; blocks?: unknown }): string {
  return bot.text(message).replace(/\*/g, '');
}

/** The thread's triage summary, once its text matches. */
function summaryIn(bot: TestBot, ts: string, matching: RegExp = /read-only step/) {
  return bot.eventually(() => replies(bot, ts).find((m) => /^(Triage S\d|Resolved after)/.test(plain(bot, m)) && matching.test(plain(bot, m))), `the triage summary matching ${matching}`, 60_000);
}

function stepTexts(bot: TestBot, ts: string): string[] {
  return replies(bot, ts).map((m) => bot.text(m)).filter((text) => text.startsWith('Triage step'));
}

function alert(alertname: string, severity: string, labels: Record<string, string> = {}, status: 'firing' | 'resolved' = 'firing', groupKey = `{}:{alertname="${alertname}",run="${uniqueName('g')}"}`) {
  return payload({ groupKey, alertname, severity, alerts: [{ status, startsAt: at(0), endsAt: status === 'resolved' ? at(20) : undefined, fingerprint: 'aa11bb22cc33dd44', labels }] });
}

describe('the five default plans', () => {
  it('S1: a crash-looping backend: status, error lines in the last 15 minutes, history; Roll back to the previous revision is refused for a viewer and confirmed for an operator; resolved says what was done', async () => {
    const firing = alert('HighErrorRate', 'critical', { app: 'backend' });
    const opened = await send(a, firing);
    expect(opened).toMatchObject({ result: 'opened', triage: 'started' });
    const ts = String(opened.ts);
    const summary = await summaryIn(a, ts);
    const text = plain(a, summary);
    expect(text).toContain('Triage S1: Deployment failed or high error rate');
    expect(text).toMatch(/✗ backend: .*crashing.*\n\s+step 1 `status backend`, pods as read at \d\d:\d\d:\d\d UTC/);
    expect(text).toMatch(/✗ 1 log line of backend contains "error"\n\s+step 2 `logs backend --since 15m --grep error`, logs (cover|reach back only to) \d\d:\d\d UTC/);
    expect(text).toMatch(/– backend runs revision 2; the one before is revision 1\n\s+step 3 `history backend`/);
    // Each step's reply is in the thread as the command renders it, before the summary.
    const steps = stepTexts(a, ts);
    expect(steps.map((s) => s.split('\n')[0])).toEqual(['Triage step 1/3: `/autostack status backend`', 'Triage step 2/3: `/autostack logs backend --since 15m --grep error`', 'Triage step 3/3: `/autostack history backend`']);
    expect(steps[0]).toContain('CrashLoopBackOff');
    expect(steps[1]).toContain('error: could not connect to the database');
    expect(buttonsOf(summary.blocks).map((b) => b.label)).toEqual(['Roll back backend to revision 1']);

    await a.click(USERS.viewer, { channel: INCIDENT, ts: summary.ts }, 'Roll back backend to revision 1');
    expect(a.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/`rollback`: it needs the operator role/);
    expect(await deploymentImage(kns, 'backend')).toBe('registry.example/autostack/backend:2.0');

    await a.click(USERS.operator, { channel: INCIDENT, ts: summary.ts }, 'Roll back backend to revision 1');
    const plan = a.lastEphemeral(USERS.operator)!;
    expect(a.text(plan)).toContain('Roll back Deployment backend from revision 2 to revision 1');
    await a.click(USERS.operator, { channel: INCIDENT, ts: plan.ts }, 'Confirm');
    await a.eventually(async () => (await deploymentImage(kns, 'backend')) === 'registry.example/autostack/backend:1.9', 'the rollback');
    await a.eventually(() => a.messages(INCIDENT).find((m) => a.text(m).includes('Rollback of backend') && a.text(m).includes('Succeeded')), 'the rollback job', 30_000);

    const resolved = await send(a, alert('HighErrorRate', 'critical', { app: 'backend' }, 'resolved', firing.groupKey));
    expect(resolved).toMatchObject({ result: 'updated', status: 'resolved', triage: 'resolved' });
    const marked = plain(a, a.emulator.message(INCIDENT, summary.ts)!);
    expect(marked).toMatch(/^Resolved after \d+ (?:s|min): Triage S1/);
    expect(marked).toMatch(new RegExp(`What was done \\(audit trail\\):\\n• \\d\\d:\\d\\d:\\d\\d UTC job rollback by ${USERS.operator}: succeeded`));
    expect(buttonsOf(a.emulator.message(INCIDENT, summary.ts)!.blocks)).toEqual([]);
  });

  it('S2: 429 bursts: ratelimit top over every configured source; the top offender gets a Block button (operator only)', async () => {
    const opened = await send(a, alert('HighRateLimiting', 'medium', { app: 'backend' }));
    const ts = String(opened.ts);
    const summary = await summaryIn(a, ts);
    const text = plain(a, summary);
    expect(text).toContain('Triage S2: Rate limiting triggered');
    expect(text).toMatch(/✗ 9 HTTP 429 answers on gateway; top offender 203\.0\.113\.7 \(100%\)\n\s+step 1 `ratelimit top --since 15m --app gateway`, (in the last 15m|since \d\d:\d\d UTC)/);
    expect(text).toMatch(/✓ no HTTP 429 answers on edge\n\s+step 2 `ratelimit top --since 15m --app edge`, (in the last 15m|since \d\d:\d\d UTC)/);
    expect(stepTexts(a, ts)).toHaveLength(2);
    expect(buttonsOf(summary.blocks).map((b) => b.label)).toEqual(['Block 203.0.113.7']);
    // The summary carries the chart step 1 drew: its line in the summary, its image once, under it.
    expect(text).toMatch(/📈 \S+ 429s per minute on gateway, \d\d:\d\d to \d\d:\d\d UTC: peak 6\/min at \d\d:\d\d; threshold 100\/min not exceeded; 203\.0\.113\.7 peak 6\/min/);
    expect(stepTexts(a, ts).join('\n')).not.toContain('📈');
    const inThread = () => a.emulator.files().filter((f) => f.title === '429s per minute on gateway, last 15m' && f.shares.some((s) => s.channel === INCIDENT && s.thread_ts === ts));
    const chart = await a.eventually(() => inThread()[0], 'the chart under the summary');
    expect(chart.alt_text).toMatch(/^429s per minute on gateway, .* peak 6\/min/);
    expect(inThread()).toHaveLength(1);

    await a.click(USERS.viewer, { channel: INCIDENT, ts: summary.ts }, 'Block 203.0.113.7');
    expect(a.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/needs the operator role/);
    await a.click(USERS.operator, { channel: INCIDENT, ts: summary.ts }, 'Block 203.0.113.7');
    expect(a.text(a.lastEphemeral(USERS.operator)!)).toContain('Block 203.0.113.7/32');
  });

  it('S3: bad OAuth state: oauth check names the failed state checks', async () => {
    const ts = String((await send(a, alert('OAuthCallbackErrors', 'high'))).ts);
    const text = plain(a, await summaryIn(a, ts));
    expect(text).toContain('Triage S3: OAuth callback failed');
    expect(text).toMatch(/✗ OAuth check for GitHub and Google: 2 checks failed\n\s+step 1 `oauth check`, redirect checked at \d\d:\d\d:\d\d UTC/);
    expect(stepTexts(a, ts)[0]).toContain('state is the same in two requests');
    // Logs that do not reach back an hour are neither a finding nor a clean bill.
    expect(text).toMatch(/(–|✗|✓) (no )?\d* ?oauth_state lines? .*\n\s+step 1 `oauth check`, the backend logs the step read/);
  });

  it('S4: a stopped database: db check says the connection is refused; Restart the database asks for an approval, not for a viewer', async () => {
    const ts = String((await send(a, alert('DatabaseConnectionPoolExhausted', 'critical', { instance: 'db-0:9187' }))).ts);
    const summary = await summaryIn(a, ts);
    const text = plain(a, summary);
    expect(text).toContain('Triage S4: Database connection lost');
    expect(text).toMatch(/✗ Database check failed: .*refused.*\n\s+step 1 `db check`, connection attempt at \d\d:\d\d:\d\d UTC/i);
    expect(buttonsOf(summary.blocks).map((b) => b.label)).toEqual(['Restart the database']);
    await a.click(USERS.viewer, { channel: INCIDENT, ts: summary.ts }, 'Restart the database');
    expect(a.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/`db restart`: it needs the operator role/);
    // The operator's click reaches `db restart` itself: its inspection finds no database workload in the test cluster.
    await a.click(USERS.operator, { channel: INCIDENT, ts: summary.ts }, 'Restart the database');
    expect(a.ephemeralTexts(USERS.operator).at(-1)).toMatch(/StatefulSet db not found/);
  });

  it('S5: a stale Terraform lock: tf lock names who holds it and for how long; Unlock asks for an approval of tf unlock', async () => {
    const ts = String((await send(a, alert('TerraformStateLockHeld', 'high'))).ts);
    const summary = await summaryIn(a, ts);
    const text = plain(a, summary);
    expect(text).toContain('Triage S5: Terraform state locked');
    expect(text).toMatch(/✗ state default is locked by \S+ for \d+ ?\w+.* \(lock [0-9a-f-]{36}\)\n\s+step 1 `tf lock`, lock read at \d\d:\d\d:\d\d UTC/);
    expect(buttonsOf(summary.blocks).map((b) => b.label)).toEqual(['Unlock default']);
    await a.click(USERS.viewer, { channel: INCIDENT, ts: summary.ts }, 'Unlock default');
    expect(a.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/`tf unlock`: it needs the operator role/);
    await a.click(USERS.operator, { channel: INCIDENT, ts: summary.ts }, 'Unlock default');
    expect(a.ephemeralTexts(USERS.operator).at(-1)).toMatch(/Approval requested: asked <!subteam\^S0LEADS>, <@U0APPROVER1> in <#C0INCIDENT>\. An approver other than you must approve `tf unlock`/);
  });

  it('an alert no plan answers gets no triage', async () => {
    const opened = await send(a, alert('DiskAlmostFull', 'high'));
    expect(opened).toMatchObject({ result: 'opened', triage: 'no plan' });
  });
});

describe('by hand', () => {
  it('/autostack triage S4 runs the plan in its own thread; an unknown scenario is refused', async () => {
    await a.command(USERS.viewer, 'triage S9');
    expect(a.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/unknown scenario "S9": use one of S1, S2, S3, S4, S5/);
    await a.command(USERS.viewer, 'triage s4');
    const parent = await a.eventually(() => a.messages(OPS).find((m) => a.text(m).includes('Triage S4 (gateway)') && a.text(m).includes('Succeeded')), 'the triage job', 30_000);
    const texts = a.emulator.thread(OPS, parent.ts).map((m) => plain(a, m));
    expect(texts.some((t) => t.startsWith('Triage step 1/1: `/autostack db check`'))).toBe(true);
    expect(texts.some((t) => /^Triage S4: Database connection lost[\s\S]*✗ Database check failed/.test(t))).toBe(true);
  });
});

describe('once per alert group', () => {
  let b: TestBot;
  beforeAll(async () => {
    const kc = kns.bot;
    // A second replica: the same Redis prefix and Slack, its own HTTP server and workers.
    b = await startTestBot({ modules: [incidentModule, tfModule, alertsModule], config: botConfig({ redis: { prefix: a.config.redis.prefix } }), emulator: a.emulator, overrides: { kube: () => kubeClientsFrom(kc) } });
  });
  afterAll(() => b?.stop());

  it('two replicas receiving two updates of a group at once triage it once; the later update refreshes the same summary in place', async () => {
    const groupKey = `{}:{alertname="DatabaseConnectionPoolExhausted",run="${uniqueName('g')}"}`;
    const one = { startsAt: at(1), fingerprint: '00000000000000a1', labels: { instance: 'db-0:9187' } };
    const two = { startsAt: at(2), fingerprint: '00000000000000a2', labels: { instance: 'db-1:9187' } };
    const first = payload({ groupKey, alertname: 'DatabaseConnectionPoolExhausted', severity: 'critical', alerts: [one] });
    const second = payload({ groupKey, alertname: 'DatabaseConnectionPoolExhausted', severity: 'critical', alerts: [one, two] });
    const answers = await Promise.all([send(a, first), send(b, second)]);
    expect(answers.map((x) => x.triage).sort()).toEqual(['refresh scheduled', 'started']);
    const ts = String(answers[0]!.ts);
    const summary = await summaryIn(a, ts);
    // A third delivery within the interval adds nothing: the refresh is already scheduled.
    const third = await send(b, payload({ groupKey, alertname: 'DatabaseConnectionPoolExhausted', severity: 'critical', alerts: [{ ...one, status: 'resolved', endsAt: at(5) }, two] }));
    expect(third.triage).toBe('refresh already scheduled');
    await summaryIn(a, ts, /ran again/);
    const summaries = replies(a, ts).filter((m) => plain(a, m).startsWith('Triage S4'));
    expect(summaries.map((m) => m.ts)).toEqual([summary.ts]);
    expect(stepTexts(a, ts)).toHaveLength(1);
  });
});

describe('a step that times out', () => {
  let c: TestBot;
  beforeAll(async () => {
    const kc = kns.bot;
    c = await startTestBot({
      modules: [incidentModule, tfModule, alertsModule],
      // The configured S3 plan replaces the default one: the OAuth check, then the database check.
      config: botConfig({ alerts: { triage: { stepTimeout: '2s', plans: [{ scenario: 'S3', title: 'OAuth callback failed', alerts: ['OAuthCallbackErrors'], steps: ['oauth check github', 'db check'] }] } } }),
      overrides: { kube: () => kubeClientsFrom(kc) },
    });
  });
  afterAll(() => c?.stop());

  it('is reported in the thread and the summary, and the next step still runs', async () => {
    backend.failNext({ path: '/auth/github', hang: true, times: 2 });
    const ts = String((await send(c, alert('OAuthCallbackErrors', 'high'))).ts);
    const text = plain(c, await summaryIn(c, ts));
    expect(text).toMatch(/– `oauth check github` timed out: no answer within 2 seconds; the other steps still ran/);
    expect(text).toMatch(/✗ Database check failed: .*refused/i);
    expect(stepTexts(c, ts)[0]).toMatch(/Timed out: no answer within 2 seconds/);
  });
});
