/**
 * `status <app>` on the test control plane (the bot under its Role): a rollout stuck on CrashLoopBackOff shows each
 * pod's phase, readiness, restarts and why its container last ended, the warning events, and
 * buttons that run the next verb for the person who clicks (with that verb's own checks).
 */
import { describe, expect, it } from 'vitest';
import { incidentModule } from '../../commands/index.ts';
import { STATUS_ACTION, statusAction } from '../../commands/incident/status.ts';
import type { Button } from '../../src/core/result.ts';
import { replyToText } from '../../src/render/text.ts';
import { testContext } from '../harness/context.ts';
import type { TestContext } from '../harness/context.ts';
import { RESTART_COUNT_ENV, createDeployment, deploymentPods, kubeNamespace, updateDeployment } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';
import { waitUntil } from '../harness/services.ts';
import { alertGroups, groupId } from '../../commands/shared/alert-store.ts';
import { deployRecords } from '../../commands/shared/deploy-records.ts';
import { uniqueName } from '../harness/env.ts';
import { PendingStore } from '../../src/core/pending.ts';

/** `status` as the bot registers it: the overview with the sections other areas contribute. */
const statusVerb = incidentModule.verbs.find((verb) => verb.path.join(' ') === 'status')!;

/** A namespace of its own and a viewer whose bot works in it under its Role. */
async function setup(config: Record<string, unknown> = {}): Promise<{ ns: string; kns: TestNamespace; ctx: TestContext }> {
  const kns = await kubeNamespace();
  return { ns: kns.name, kns, ctx: testContext({ role: 'viewer', kube: kns.bot, config: { kubernetes: { namespace: kns.name }, ...config } }) };
}

/** A Warning event about `pod`, as the kubelet records one. */
async function warningEvent(kns: TestNamespace, pod: string, reason: string, message: string, count = 1) {
  const now = new Date();
  await kns.kube.core.createNamespacedEvent({
    namespace: kns.name,
    body: {
      metadata: { name: `${pod}.${reason.toLowerCase()}`, namespace: kns.name },
      involvedObject: { kind: 'Pod', name: pod, namespace: kns.name },
      reason,
      message,
      type: 'Warning',
      count,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: 'kubelet' },
    },
  });
}

describe('status <app>', () => {
  it('shows CrashLoopBackOff with the last termination reason, restarts and warning events; buttons go through ctx.request', async () => {
    const { ns, kns, ctx } = await setup();
    const image = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${ns}/backend:1.4.2`;
    await createDeployment(kns, { name: 'backend', image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${ns}/backend:1.4.1` });
    const [old] = await deploymentPods(kns, 'backend');
    // The new revision's pod crash-loops: restarted 4 times, its last run ended with exit code 1.
    await updateDeployment(kns, 'backend', (dep) => {
      const container = dep.spec!.template!.spec!.containers[0]!;
      container.image = image;
      container.env = [{ name: RESTART_COUNT_ENV, value: '4' }];
    });
    let crashed = '';
    await waitUntil('the new pod to crash-loop', 30_000, async () => {
      const pod = (await deploymentPods(kns, 'backend')).find((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff');
      crashed = pod?.metadata?.name ?? '';
      return Boolean(pod);
    });
    expect(crashed).not.toBe(old!.metadata!.name);
    await warningEvent(kns, crashed, 'BackOff', 'Back-off restarting failed container backend', 12);
    await warningEvent(kns, 'someone-else-7f9', 'BackOff', 'not this app');

    const out = await statusVerb.execute!(statusVerb.parse({ positional: ['backend'], flags: {} }, ctx), ctx);
    const text = replyToText(out);
    expect(text).toContain(`Image: backend:1.4.2`);
    expect(text).toMatch(new RegExp(`${crashed}\` Running, 0/1 ready, 4 restarts\\n\\s+waiting: CrashLoopBackOff; last ended: Error, exit 1 at \\d\\d:\\d\\d UTC \\(\\d+ s ago\\)`));
    expect(text).toMatch(new RegExp(`\\*BackOff\\* ${crashed} \\(×12\\): Back-off restarting failed container backend`));
    expect(text).not.toContain('not this app');
    expect(out.summary).toMatch(/^backend: .*; 2 pods, crashing; 1 warning event$/);

    const buttons = out.parts.flatMap((p) => (p.kind === 'buttons' ? p.buttons : [])) as Button[];
    expect(buttons.map((b) => b.label)).toEqual(['Logs of crashed containers', 'History', 'Restart', 'Roll back']);
    for (const button of buttons) await statusAction.handle(button.value, ctx);
    expect(ctx.requested).toEqual([
      { path: ['logs'], args: { positional: ['backend'], flags: { previous: true } } },
      { path: ['history'], args: { positional: ['backend'], flags: {} } },
      { path: ['restart'], args: { positional: ['backend'], flags: {} } },
      { path: ['rollback'], args: { positional: ['backend'], flags: {} } },
    ]);
    expect(buttons.every((b) => b.action === STATUS_ACTION)).toBe(true);
  });

  it('with no app: one message with firing alerts, Terraform locks, the last deploy per app with its health now, pending approvals, active IP blocks and running jobs', async () => {
    const { kns, ctx } = await setup({ redis: { prefix: uniqueName('overview') } });
    await createDeployment(kns, { name: 'backend', image: 'registry.example/backend:1.4.2' });
    const prefix = ctx.config.redis.prefix;
    await alertGroups(ctx.clients.redis, prefix).save({
      id: groupId('g1'), groupKey: 'g1', alertname: 'RateLimitTriggered', severity: 'warning', channel: 'C0INCIDENT', ts: '1.2', status: 'firing', digest: 'x',
      alerts: [{ fingerprint: 'f', status: 'firing', startsAt: new Date(Date.now() - 120_000).toISOString(), labels: { app: 'backend' } }],
      resolved: {}, openedAt: new Date().toISOString(), updatedAt: new Date().toISOString(),
    });
    const finished = new Date(Date.now() - 600_000).toISOString();
    await deployRecords(ctx.clients.redis, prefix).add({
      jobId: 'j1', app: 'backend', deployment: 'backend', by: 'U0BOB', reason: 'release', from: { image: 'registry.example/backend:1.4.1' }, to: { image: 'registry.example/backend:1.4.2', tag: '1.4.2' },
      result: 'succeeded', smoke: { passed: 1, failed: 0 }, startedAt: finished, finishedAt: finished, durationMs: 1000,
    });
    const now = Date.now();
    await new PendingStore(ctx.clients.redis, prefix).create({
      kind: 'approval', verb: 'tf unlock', sealedParams: 'x', planHash: 'h', plan: JSON.stringify({ title: 'Force-unlock Terraform state default', steps: [], resources: [] }),
      requester: 'U0CAROL', channel: 'C0OPS', createdAt: now - 120_000, expiresAt: now + 600_000,
    });
    await new PendingStore(ctx.clients.redis, prefix).create({
      kind: 'approval', verb: 'db restart', sealedParams: 'x', planHash: 'h', plan: '{}', requester: 'U0CAROL', channel: 'C0OPS', createdAt: now - 3_600_000, expiresAt: now - 60_000,
    });
    await ctx.jobs.start('backup-restore', {}, { channel: 'C0OPS', requestedBy: 'U0BOB' });
    const out = await statusVerb.execute!(statusVerb.parse({ positional: [], flags: {} }, ctx), ctx);
    const text = replyToText(out);
    // Pending approvals: the open one with who asked and when it expires; the expired one is not listed.
    expect(text).toMatch(/\*Pending approvals\*\n• Force-unlock Terraform state default: asked by @U0CAROL \d\d:\d\d UTC \(2 min ago\), expires \d\d:\d\d UTC \(in (?:9|10) min\)\n/);
    expect(text).not.toContain('db restart');
    expect(text).toMatch(/\*Running jobs\*\n• queued: backup-restore by @U0BOB/);
    expect(text).toMatch(/\*Firing alerts\*\n.*RateLimitTriggered/);
    expect(text).toContain('*Terraform state locks*');
    expect(text).toMatch(/\*backend\* backend:1\.4\.2 succeeded \d\d:\d\d UTC \(10 min ago\) by @U0BOB; now :white_check_mark: 1\/1 ready/);
    expect(text).toContain('*Active IP blocks*\nNone.');
  });

  it('says which app does not exist', async () => {
    const { ns, ctx } = await setup();
    await expect(statusVerb.execute!({ app: 'nope' }, ctx)).rejects.toThrow(`No Deployment or StatefulSet named nope in namespace ${ns}.`);
  });
});
