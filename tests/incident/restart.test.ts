/**
 * `restart <app>` and the Restart button of `status <app>` on the test control plane (the bot
 * under its Role): through the real bot (signed commands and clicks, the dispatcher's
 * confirmation, the BullMQ job) a viewer's click is refused and changes nothing, an operator's
 * click asks for confirmation and the restart ends with the new revision's evidence; a rollout
 * that cannot finish reports the state it left.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeClientsFrom } from '../../src/clients.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { incidentModule } from '../../commands/index.ts';
import { appRestartTiming } from '../../commands/incident/operations.ts';
import { restartVerb } from '../../commands/incident/verbs.ts';
import { RESTARTED_AT_ANNOTATION } from '../../commands/shared/kube.ts';
import { restartJob } from '../../jobs/restart.ts';
import { INCIDENT, USERS, buttonsOf, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import { planOf, runJob, testContext } from '../harness/context.ts';
import { RESTART_COUNT_ENV, createDeployment, deploymentPods, kubeNamespace, updateDeployment } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';

let kns: TestNamespace;
let t: TestBot;

const restartedAt = async (name: string) => (await kns.kube.apps.readNamespacedDeployment({ name, namespace: kns.name })).spec!.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION];

beforeAll(async () => {
  appRestartTiming.pollMs = 100;
  kns = await kubeNamespace();
  await createDeployment(kns, { name: 'backend', image: 'registry.example/autostack/backend:1.4.1' });
  const kc = kns.bot;
  t = await startTestBot({ modules: [incidentModule], config: { kubernetes: { namespace: kns.name } }, overrides: { kube: () => kubeClientsFrom(kc) } });
});
afterAll(() => t?.stop());

describe('restart <app>', () => {
  it('the Restart button of status: a viewer is refused; an operator confirms and the new revision is reported ready', async () => {
    await t.command(USERS.viewer, 'status backend', INCIDENT);
    const status = await t.eventually(() => t.messages(INCIDENT).find((m) => t.text(m).includes('Status of backend') && buttonsOf(m.blocks).length), 'the status message');
    expect(buttonsOf(status.blocks).map((b) => b.label)).toEqual(['Logs', 'History', 'Restart', 'Roll back']);
    const podsBefore = (await deploymentPods(kns, 'backend')).map((p) => p.metadata!.uid);

    await t.click(USERS.viewer, { channel: INCIDENT, ts: status.ts }, 'Restart');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/not allowed to run `restart`: it needs the operator role/);
    expect(await restartedAt('backend')).toBeUndefined();

    await t.click(USERS.operator, { channel: INCIDENT, ts: status.ts }, 'Restart');
    const confirm = t.lastEphemeral(USERS.operator)!;
    expect(t.text(confirm)).toContain(`Restart backend: Deployment backend in ${kns.name}`);
    expect(t.text(confirm)).toContain('rollout restart Deployment backend (1 replica, backend:1.4.1)');
    expect(await restartedAt('backend')).toBeUndefined();
    await t.click(USERS.operator, { channel: INCIDENT, ts: confirm.ts }, 'Confirm');

    const done = await t.eventually(
      () => t.emulator.channelMessages(INCIDENT, { includeReplies: true }).map((m) => t.text(m)).find((text) => text.includes('Deployment backend restarted')),
      'the restart result',
      60_000,
    );
    expect(done).toMatch(/checked: new revision 2: 1\/1 replicas updated and available, image backend:1\.4\.1/);
    expect(await restartedAt('backend')).toBeDefined();
    const chart = await t.eventually(() => t.emulator.files().find((f) => f.title === 'Ready replicas of Deployment backend'), 'the rollout chart');
    expect(chart.alt_text).toMatch(/, 1 of 1 at the end, .*; restart requested at \S+; rolled out at \S+\.$/);
    // In the restart job's thread.
    const parent = t.messages(INCIDENT).find((m) => t.text(m).includes('Restart of backend'));
    expect(chart.shares).toEqual([expect.objectContaining({ channel: INCIDENT, thread_ts: parent!.ts })]);
    expect((await deploymentPods(kns, 'backend')).map((p) => p.metadata!.uid)).not.toEqual(expect.arrayContaining(podsBefore));
    const audited = await t.bot.audit.latest(20);
    expect(audited.find((e) => e.action === 'restart')?.actor).toBe(USERS.operator);
  });

  it('typed without an app, opens a picker of the Deployments that exist; the pick asks for confirmation as typing would', async () => {
    await createDeployment(kns, { name: 'worker', image: 'registry.example/autostack/worker:3.1' });
    const modals = t.emulator.calls('views.open').length;
    await t.command(USERS.viewer, 'restart', INCIDENT);
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/not allowed to run `restart`: it needs the operator role/);
    expect(t.emulator.calls('views.open')).toHaveLength(modals);

    await t.command(USERS.operator, 'restart', INCIDENT);
    const modal = t.emulator.modalStack(USERS.operator).at(-1)!;
    const select = (modal.blocks as Array<{ block_id?: string; element?: { type: string; options?: Array<{ value: string }> } }>).find((b) => b.block_id === 'choice')!;
    expect(select.element!.type).toBe('static_select');
    expect(select.element!.options!.map((o) => o.value)).toEqual(['backend', 'worker']);
    const before = await restartedAt('worker');
    await t.emulator.submitView(t.url, { viewId: modal.id, values: { choice: { value: 'worker' } } });
    await t.bot.dispatcher.settled();
    expect(t.text(t.lastEphemeral(USERS.operator)!)).toContain(`Restart worker: Deployment worker in ${kns.name}`);
    expect(await restartedAt('worker')).toBe(before);
  });

  it('says exactly what state it left when the new pods never become ready', async () => {
    const ns = await kubeNamespace();
    const ctx = testContext({ role: 'operator', kube: ns.bot, config: { kubernetes: { namespace: ns.name }, rollout: { timeout: '2s' } } });
    await createDeployment(ns, { name: 'web', image: 'registry.example/autostack/web:2.0' });
    // From now on every new pod of web crash-loops.
    await updateDeployment(ns, 'web', (dep) => {
      dep.spec!.template!.spec!.containers[0]!.env = [{ name: RESTART_COUNT_ENV, value: '3' }];
    });
    const plan = await planOf(restartVerb, { app: 'web' }, ctx);
    expect(plan.resources).toEqual([`deployment/web in ${ns.name}`]);
    const error = await runJob(restartJob, { app: 'web' }, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toMatch(/^Deployment web was restarted \(pod template annotated at \S+\), but its rollout is not complete after 2s: .+ \(\d\/1 updated, \d\/1 ready, \d available\)/);
    expect((error as Error).message).toContain('nothing else was changed');
  });

  it('refuses an app without a Deployment before any plan, naming the apps it knows', async () => {
    const ctx = testContext({ role: 'operator', kube: kns.bot, config: { kubernetes: { namespace: kns.name }, deploy: { apps: { web: { deployment: 'web', image: 'registry.example/autostack/web' } } } } });
    const error = await planOf(restartVerb, { app: 'nope' }, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as UserFacingError).message).toBe(`No Deployment or StatefulSet named nope in namespace ${kns.name}.`);
    expect((error as UserFacingError).hint).toBe(`Known apps: backend, web (deploy.apps in the configuration); any other Deployment in ${kns.name} works by its name.`);
  });
});
