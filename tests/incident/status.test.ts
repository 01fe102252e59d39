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

    const out = await statusVerb.execute(statusVerb.parse({ positional: ['backend'], flags: {} }, ctx), ctx);
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

  it('says which app does not exist', async () => {
    const { ns, ctx } = namespaceContext(fake, { role: 'viewer' });
    await expect(statusVerb.execute({ app: 'nope' }, ctx)).rejects.toThrow(`No Deployment or StatefulSet named nope in namespace ${ns}.`);
  });
});
