/**
 * `status <app>` against the fake Kubernetes API: a rollout stuck on CrashLoopBackOff shows each
 * pod's phase, readiness, restarts and why its container last ended, the warning events, and
 * buttons that run the next verb for the person who clicks (with that verb's own checks).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusVerb } from '../../commands/incident/verbs.ts';
import { STATUS_ACTION, statusAction } from '../../commands/incident/status.ts';
import type { Button } from '../../src/core/result.ts';
import { replyToText } from '../../src/render/text.ts';
import { FakeKube } from '../harness/fake-kube.ts';
import { namespaceContext } from './kube-helpers.ts';
import { alertGroups, groupId } from '../../commands/shared/alert-store.ts';
import { deployRecords } from '../../commands/shared/deploy-records.ts';
import { uniqueName } from '../harness/env.ts';

let fake: FakeKube;
beforeAll(async () => {
  fake = await FakeKube.start();
});
afterAll(() => fake.close());

describe('status <app>', () => {
  it('shows CrashLoopBackOff with the last termination reason, restarts and warning events; buttons go through ctx.request', async () => {
    const { ns, ctx } = namespaceContext(fake, { role: 'viewer' });
    const image = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${ns}/backend:1.4.2`;
    fake.seedDeployment({ namespace: ns, name: 'backend', image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${ns}/backend:1.4.1`, replicas: 1 });
    fake.setImageBehaviour(image, 'stuck', { failure: 'CrashLoopBackOff', exitCode: 3, restartCount: 4 });
    const kube = ctx.clients.kube();
    const dep = await kube.apps.readNamespacedDeployment({ name: 'backend', namespace: ns });
    dep.spec!.template!.spec!.containers[0]!.image = image;
    await kube.apps.replaceNamespacedDeployment({ name: 'backend', namespace: ns, body: dep });
    await kube.apps.readNamespacedDeployment({ name: 'backend', namespace: ns });
    const crashed = fake.getDeploymentPods(ns, 'backend', 'live')[0]!.metadata.name!;
    fake.seedEvent(ns, { involved: { kind: 'Pod', name: crashed }, reason: 'BackOff', message: 'Back-off restarting failed container backend', count: 12 });
    fake.seedEvent(ns, { involved: { kind: 'Pod', name: 'someone-else-7f9' }, reason: 'BackOff', message: 'not this app' });

    const out = await statusVerb.execute!(statusVerb.parse({ positional: ['backend'], flags: {} }, ctx), ctx);
    const text = replyToText(out);
    expect(text).toContain(`Image: backend:1.4.2`);
    expect(text).toMatch(new RegExp(`${crashed}\` Running, 0/1 ready, 4 restarts\\n\\s+waiting: CrashLoopBackOff; last ended: Error, exit 3 at \\d\\d:\\d\\d UTC \\(\\d+s ago\\)`));
    expect(text).toMatch(new RegExp(`\\*BackOff\\* ${crashed} \\(×12\\): Back-off restarting failed container backend`));
    expect(text).not.toContain('not this app');
    expect(out.summary).toMatch(/^backend: .*; 2 pods, crashing; 1 warning event$/);

    const buttons = out.parts.flatMap((p) => (p.kind === 'buttons' ? p.buttons : [])) as Button[];
    expect(buttons.map((b) => b.label)).toEqual(['Logs of crashed containers', 'History', 'Roll back']);
    for (const button of buttons) await statusAction.handle(button.value, ctx);
    expect(ctx.requested).toEqual([
      { path: ['logs'], args: { positional: ['backend'], flags: { previous: true } } },
      { path: ['history'], args: { positional: ['backend'], flags: {} } },
      { path: ['rollback'], args: { positional: ['backend'], flags: {} } },
    ]);
    expect(buttons.every((b) => b.action === STATUS_ACTION)).toBe(true);
  });

  it('with no app: one message with firing alerts, Terraform locks, the last deploy per app with its health now, and active IP blocks', async () => {
    const { ns, ctx } = namespaceContext(fake, { role: 'viewer', config: { redis: { prefix: uniqueName('overview') } } });
    fake.seedDeployment({ namespace: ns, name: 'backend', image: 'registry.example/backend:1.4.2', replicas: 1 });
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
    const out = await statusVerb.execute!(statusVerb.parse({ positional: [], flags: {} }, ctx), ctx);
    const text = replyToText(out);
    expect(text).toMatch(/\*Firing alerts\*\n.*RateLimitTriggered/);
    expect(text).toContain('*Terraform state locks*');
    expect(text).toMatch(/\*backend\* backend:1\.4\.2 succeeded \d\d:\d\d UTC \(10m ago\) by @U0BOB; now :white_check_mark: 1\/1 ready/);
    expect(text).toContain('*Active IP blocks*\nNone.');
  });

  it('says which app does not exist', async () => {
    const { ns, ctx } = namespaceContext(fake, { role: 'viewer' });
    await expect(statusVerb.execute!({ app: 'nope' }, ctx)).rejects.toThrow(`No Deployment or StatefulSet named nope in namespace ${ns}.`);
  });
});
