import { describe, expect, it } from 'vitest';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import type { Args } from '../../src/core/types.ts';
import type { Part } from '../../src/core/result.ts';
import { toMrkdwn } from '../../src/core/text.ts';
import { kubeClientsFrom } from '../../src/clients.ts';
import { historyVerb, logsVerb } from '../../commands/incident/verbs.ts';
import type { LogsParams } from '../../commands/incident/verbs.ts';
import { splitTimestamp } from '../../commands/shared/logs.ts';
import { rolloutRestart } from '../../commands/shared/kube-rollouts.ts';
import { readPodLog } from '../../commands/shared/kube-logs.ts';
import { testContext } from '../harness/context.ts';
import type { TestContext } from '../harness/context.ts';
import { RESTART_COUNT_ENV, createDeployment, deploymentPods, kubeNamespace, podsIn, setPodLogs, updateDeployment, waitForRollout } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';
import { waitUntil } from '../harness/services.ts';

function args(positional: string[], flags: Args['flags'] = {}): Args {
  return { positional, flags };
}

/** A namespace of its own and a viewer's context whose bot works in it under its Role. */
async function setup(): Promise<{ ns: TestNamespace; ctx: TestContext }> {
  const ns = await kubeNamespace();
  return { ns, ctx: testContext({ role: 'viewer', kube: ns.bot, config: { kubernetes: { namespace: ns.name } } }) };
}

function parse(ctx: TestContext, a: Args): LogsParams {
  return logsVerb.parse(a, { config: ctx.config, actor: ctx.actor });
}

function code(parts: Part[]): string {
  const found = parts.filter((p): p is Extract<Part, { kind: 'code' }> => p.kind === 'code');
  return found.map((p) => p.text).join('\n');
}

function text(parts: Part[]): string {
  return JSON.stringify(parts);
}

async function webPods(ns: TestNamespace): Promise<string[]> {
  return (await deploymentPods(ns, 'web')).map((p) => p.metadata!.name!);
}

describe('logs', () => {
  it('shows every pod of the Deployment, each line prefixed with its pod, in time order, redacted', async () => {
    const { ns, ctx } = await setup();
    await createDeployment(ns, { name: 'web', image: 'web:1', replicas: 2 });
    const [a, b] = await webPods(ns);
    const t = (s: number) => new Date(Date.UTC(2025, 10, 10, 3, 0, s));
    await setPodLogs(ns, a!, { web: { lines: [{ text: 'GET /health 200', time: t(1) }, { text: 'POST /login Authorization: Bearer sk_live_abcdefgh123', time: t(3) }] } });
    await setPodLogs(ns, b!, { web: { lines: [{ text: 'worker started', time: t(2) }, { text: 'connecting to postgresql://app:hunter2@db:5432/app', time: t(4) }] } });
    const reply = await logsVerb.execute!(parse(ctx, args(['web'])), ctx);
    expect(code(reply.parts).split('\n')).toEqual([
      `[${a}] GET /health 200`,
      `[${b}] worker started`,
      `[${a}] POST /login Authorization: Bearer [REDACTED]`,
      `[${b}] connecting to postgresql://app:***@db:5432/app`,
    ]);
    expect(JSON.stringify(reply)).not.toContain('hunter2');
    expect(JSON.stringify(reply)).not.toContain('sk_live_abcdefgh123');
    expect(reply.attachment).toBeUndefined();
    expect(reply.visibility).toBe('channel');
  });

  it("shows a crashed pod's previous container logs with --previous", async () => {
    const { ns, ctx } = await setup();
    await createDeployment(ns, { name: 'web', image: 'web:1', replicas: 1 });
    const [healthy] = await webPods(ns);
    await setPodLogs(ns, healthy!, { web: { lines: ['serving'] } });
    const crash = ['Traceback (most recent call last):', 'sqlalchemy.exc.OperationalError: could not connect to server', 'DATABASE_URL=postgresql://app:s3cret@db/app'];
    // kwok keeps the new revision's pod in CrashLoopBackOff (restarted 4 times); the rollout stalls.
    await updateDeployment(ns, 'web', (d) => {
      const container = d.spec!.template!.spec!.containers[0]!;
      container.image = 'web:2-broken';
      container.env = [{ name: RESTART_COUNT_ENV, value: '4' }];
    });
    let crashed = '';
    await waitUntil('the crash-looping pod', 30_000, async () => {
      const pod = (await deploymentPods(ns, 'web')).find((p) => p.spec?.containers[0]?.image === 'web:2-broken' && p.status?.containerStatuses?.[0]?.restartCount === 4);
      crashed = pod?.metadata?.name ?? '';
      return Boolean(pod);
    });
    await setPodLogs(ns, crashed, { web: { lines: [], previous: crash } });

    const reply = await logsVerb.execute!(parse(ctx, args(['web'], { previous: true })), ctx);
    const lines = code(reply.parts).split('\n');
    expect(lines).toEqual([
      `[${crashed}] Traceback (most recent call last):`,
      `[${crashed}] sqlalchemy.exc.OperationalError: could not connect to server`,
      `[${crashed}] DATABASE_URL=postgresql://app:***@db/app`,
    ]);
    // The healthy pod of the old revision has no previous container: said, not an error.
    expect(text(reply.parts)).toContain('no previous container (it has not restarted)');
    expect(text(reply.parts)).toContain('previous container (restarts: 4)');
  });

  it('filters with --grep as plain, case-insensitive text (never a pattern)', async () => {
    const { ns, ctx } = await setup();
    await createDeployment(ns, { name: 'web', image: 'web:1' });
    const [pod] = await webPods(ns);
    await setPodLogs(ns, pod!, { web: { lines: ['ERROR (a+)+$ happened', 'error: timeout', 'info: fine', 'token=abc error'] } });
    const reply = await logsVerb.execute!(parse(ctx, args(['web'], { grep: '(A+)+$' })), ctx);
    expect(code(reply.parts)).toBe(`[${pod}] ERROR (a+)+$ happened`);
    const errors = await logsVerb.execute!(parse(ctx, args(['web'], { grep: 'ERROR' })), ctx);
    expect(code(errors.parts).split('\n')).toEqual([`[${pod}] ERROR (a+)+$ happened`, `[${pod}] error: timeout`, `[${pod}] token=[REDACTED] error`]);
    // Searching for a secret value finds nothing: the search runs on redacted lines.
    const probe = await logsVerb.execute!(parse(ctx, args(['web'], { grep: 'abc' })), ctx);
    expect(code(probe.parts)).toBe('');
    expect(text(probe.parts)).toContain('No lines contain');
  });

  it('--grep over a pod younger than --since says how far the search reached and claims nothing before', async () => {
    const { ns, ctx } = await setup();
    // A fresh Deployment: its pod started seconds ago, far later than the hour asked for.
    await createDeployment(ns, { name: 'web', image: 'web:1' });
    const [pod] = await webPods(ns);
    await setPodLogs(ns, pod!, { web: { lines: ['info: fine'] } });
    const reply = await logsVerb.execute!(parse(ctx, args(['web'], { grep: 'oauth_state', since: '1h' })), ctx);
    expect(text(reply.parts)).toMatch(/No lines contain .{1,3}oauth_state.{1,3} since \d\d:\d\d UTC\./);
    expect(text(reply.parts)).toMatch(/Searched: logs reach back only to \d\d:\d\d UTC \((?:\d+ s|\d+ min|just now)[^)]*\) \(pods started then\), not to \d\d:\d\d UTC \(1 h ago\); earlier lines were not searched/);
  });

  it('uploads long output as a file and shows the last lines inline', async () => {
    const { ns, ctx } = await setup();
    await createDeployment(ns, { name: 'web', image: 'web:1' });
    const [pod] = await webPods(ns);
    await setPodLogs(ns, pod!, { web: { lines: Array.from({ length: 150 }, (_, i) => `request ${i + 1} served`) } });
    const reply = await logsVerb.execute!(parse(ctx, args(['web'], { tail: '120' })), ctx);
    expect(reply.attachment).toBeDefined();
    const fileLines = reply.attachment!.content.trimEnd().split('\n');
    expect(fileLines).toHaveLength(120);
    expect(fileLines[0]).toBe(`[${pod}] request 31 served`);
    expect(fileLines.at(-1)).toBe(`[${pod}] request 150 served`);
    expect(code(reply.parts).split('\n')).toHaveLength(10);
    expect(reply.attachment!.filename).toBe('web-logs.txt');
  });

  it('limits to recent lines with --since and to one pod with --pod', async () => {
    const { ns, ctx } = await setup();
    await createDeployment(ns, { name: 'web', image: 'web:1', replicas: 2 });
    const [a, b] = await webPods(ns);
    const now = Date.now();
    await setPodLogs(ns, a!, { web: { lines: [{ text: 'old line', time: new Date(now - 2 * 3600_000) }, { text: 'new line', time: new Date(now - 60_000) }] } });
    await setPodLogs(ns, b!, { web: { lines: [{ text: 'other pod', time: new Date(now - 60_000) }] } });
    const reply = await logsVerb.execute!(parse(ctx, args(['web'], { since: '15m', pod: a! })), ctx);
    expect(code(reply.parts)).toBe(`[${a}] new line`);
    await expect(logsVerb.execute!(parse(ctx, args(['web'], { pod: 'web-nope' })), ctx)).rejects.toThrow(/is not a pod of Deployment web \(its pods: /);
  });

  it('reads the database StatefulSet too, and says when nothing is named so', async () => {
    const { ns, ctx } = await setup();
    const labels = { app: 'db' };
    await ns.kube.apps.createNamespacedStatefulSet({
      namespace: ns.name,
      body: { metadata: { name: 'db', labels }, spec: { serviceName: 'db', replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'db', image: 'postgres:15' }] } } } },
    });
    await waitUntil('the database pod to run', 30_000, async () => (await podsIn(ns, 'app=db')).some((p) => p.status?.phase === 'Running'));
    const pod = 'db-0';
    await setPodLogs(ns, pod, { db: { lines: ['database system is ready to accept connections'] } });
    const reply = await logsVerb.execute!(parse(ctx, args(['db'])), ctx);
    expect(code(reply.parts)).toBe(`[${pod}] database system is ready to accept connections`);
    await expect(logsVerb.execute!(parse(ctx, args(['ghost'])), ctx)).rejects.toThrow(UserFacingError);
  });

  it('says a pod is not scheduled yet (the API answers its log request with 204, no body) and shows the other pods', async () => {
    const { ns, ctx } = await setup();
    await createDeployment(ns, { name: 'web', image: 'web:1' });
    const [running] = await webPods(ns);
    await setPodLogs(ns, running!, { web: { lines: ['GET /health 200'] } });
    // No node has this label: the scheduler leaves the pod Pending, without a node.
    await ns.kube.core.createNamespacedPod({
      namespace: ns.name,
      body: { metadata: { name: 'web-unscheduled', labels: { app: 'web' } }, spec: { nodeSelector: { 'autostack.test/none': 'x' }, containers: [{ name: 'web', image: 'web:1' }] } },
    });
    await waitUntil('the scheduler to give up on the pod', 30_000, async () => {
      const pod = await ns.kube.core.readNamespacedPod({ name: 'web-unscheduled', namespace: ns.name });
      return (pod.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.status === 'False');
    });
    const reply = await logsVerb.execute!(parse(ctx, args(['web'])), ctx);
    expect(code(reply.parts)).toBe(`[${running}] GET /health 200`);
    expect(text(reply.parts)).toContain('web-unscheduled: not scheduled to a node yet (Pending): it has no log');
    expect(reply.summary).toBe('1 log lines of web from 2 pods');
    // Asked directly, the 204 becomes a clear message instead of the client's parse error.
    await expect(readPodLog(kubeClientsFrom(ns.bot), ns.name, 'web-unscheduled')).rejects.toThrow(
      'logs of pod web-unscheduled: Kubernetes answered without a log (the pod has not been scheduled to a node yet)',
    );
  });

  it('refuses bad input with a specific message', () => {
    const ctx = testContext({ role: 'viewer' });
    expect(() => parse(ctx, args(['Web_App']))).toThrow(/not a valid app name/);
    expect(() => parse(ctx, args(['web'], { since: '15x' }))).toThrow(/--since must be a duration/);
    expect(() => parse(ctx, args(['web'], { since: '30d' }))).toThrow(/between 1 second and 7 days/);
    expect(() => parse(ctx, args(['web'], { tail: '0' }))).toThrow(/--tail must be a number of lines from 1 to 5000/);
    expect(() => parse(ctx, args(['web'], { grep: ' ' }))).toThrow(UsageError);
    expect(() => parse(ctx, args(['web'], { pod: 'Bad/Pod' }))).toThrow(/not a valid pod name/);
    expect(parse(ctx, args(['web'], { since: '15m' }))).toMatchObject({ app: 'web', sinceSeconds: 900, tail: 200, previous: false });
  });

  it('sorts timestamps with different fraction lengths correctly', () => {
    expect(splitTimestamp('2025-11-10T03:00:01.1Z a').key > splitTimestamp('2025-11-10T03:00:01.12Z b').key).toBe(false);
    expect(splitTimestamp('no timestamp here')).toEqual({ key: '', text: 'no timestamp here' });
  });
});

const CHANGE_CAUSE = 'kubernetes.io/change-cause';

/** Rolls the Deployment out to `image` (a new revision), with or without a change-cause. */
async function release(ns: TestNamespace, image: string, changeCause?: string): Promise<void> {
  await updateDeployment(ns, 'web', (d) => {
    d.spec!.template!.spec!.containers[0]!.image = image;
    const annotations = { ...d.metadata!.annotations };
    delete annotations[CHANGE_CAUSE];
    d.metadata!.annotations = changeCause ? { ...annotations, [CHANGE_CAUSE]: changeCause } : annotations;
  });
  await waitForRollout(ns, 'web');
}

describe('history', () => {
  it('lists revisions newest first with images, change-cause, time, ready replicas and the live marker', async () => {
    const { ns, ctx } = await setup();
    await createDeployment(ns, { name: 'web', image: 'web:1', replicas: 2, annotations: { [CHANGE_CAUSE]: 'release 1' } });
    await release(ns, 'web:2');
    await release(ns, 'web:3', 'release 3 by U0BOB: <fix> & retry');
    const reply = await historyVerb.execute!(historyVerb.parse(args(['web']), { config: ctx.config, actor: ctx.actor }), ctx);
    const tablePart = reply.parts.find((p): p is Extract<Part, { kind: 'table' }> => p.kind === 'table')!;
    expect(tablePart.columns).toEqual(['revision', 'images', 'created', 'ready']);
    expect(tablePart.rows.map((r) => [r[0], r[1], r[3]])).toEqual([
      ['3 ◀ live', 'web:3', '2/2'],
      ['2', 'web:2', '0/0'],
      ['1', 'web:1', '0/0'],
    ]);
    // Change-causes are mrkdwn under the table: the requester the bot wrote into one is a mention.
    const causes = reply.parts.find((p): p is Extract<Part, { kind: 'text' }> => p.kind === 'text' && toMrkdwn(p.text).startsWith('*Change-causes*'))!;
    expect(toMrkdwn(causes.text).split('\n').slice(1)).toEqual(['• *3* release 3 by <@U0BOB>: &lt;fix&gt; &amp; retry', '• *2* —', '• *1* release 1']);
    expect(reply.summary).toContain('live revision 3 (2/2 ready)');
  });

  it('marks the new revision live after a rollout restart', async () => {
    const { ns, ctx } = await setup();
    await createDeployment(ns, { name: 'web', image: 'web:0' });
    await release(ns, 'web:1');
    await rolloutRestart(kubeClientsFrom(ns.bot), ns.name, { kind: 'Deployment', name: 'web' }, new Date());
    await waitForRollout(ns, 'web');
    const reply = await historyVerb.execute!({ app: 'web' }, ctx);
    const rows = reply.parts.find((p): p is Extract<Part, { kind: 'table' }> => p.kind === 'table')!.rows;
    expect(rows[0]![0]).toBe('3 ◀ live');
  });
});
