/**
 * Kubernetes warnings into Slack, end to end: two replicas of the bot (two watchers sharing
 * Redis and the Slack emulator) under the bot's Role on the test control plane, a Deployment
 * whose pods crash-loop (kwok), one thread for it, its parent updated on a repeat, a takeover by
 * the other replica that relists without posting anything twice, a watch error (the Role unbound
 * for a while) after which what happened meanwhile is posted once, and the buttons' guards.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { incidentModule } from '../../commands/index.ts';
import { kubeClientsFrom } from '../../src/clients.ts';
import { INCIDENT, USERS, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { BOT_ACCOUNT, createDeploymentWithHistory, deploymentPods, kubeNamespace, updateDeployment } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';
import { uniqueName } from '../harness/env.ts';
import { eventSighting, jobSighting, podSightings } from '../../commands/incident/warnings/sightings.ts';
import { parseConfig } from '../../src/config.ts';

const WAIT_MS = 45_000;

/** A replica of the bot whose log lines are kept, to see when it holds the lease and has listed. */
async function replica(kns: TestNamespace, prefix: string, shared?: TestBot): Promise<{ bot: TestBot; logs: Array<{ msg: string; stream?: string }> }> {
  const logs: Array<{ msg: string; stream?: string }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as { msg: string }) });
  const bot = await startTestBot({
    modules: [incidentModule],
    emulator: shared?.emulator,
    log,
    overrides: { kube: () => kubeClientsFrom(kns.bot) },
    config: { redis: { prefix }, kubernetes: { namespace: kns.name, warnings: { enabled: true, updateEvery: '1s' } } },
  });
  return { bot, logs };
}

const holdsLease = (logs: Array<{ msg: string }>) => logs.some((l) => l.msg === 'kubernetes warnings: this replica holds the lease');

/** A Warning event about `pod`, as the scheduler records one. */
async function failedScheduling(kns: TestNamespace, pod: string, message: string): Promise<void> {
  const now = new Date();
  await kns.kube.core.createNamespacedEvent({
    namespace: kns.name,
    body: {
      metadata: { name: `${pod}.failedscheduling`, namespace: kns.name },
      involvedObject: { kind: 'Pod', name: pod, namespace: kns.name },
      reason: 'FailedScheduling',
      message,
      type: 'Warning',
      count: 3,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: 'default-scheduler' },
    },
  });
}

describe('Kubernetes warnings', () => {
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const stop of stops.splice(0)) await stop();
  });

  it('posts one thread per Deployment across two replicas, updates its parent on a repeat, and a takeover posts nothing twice; a viewer cannot restart from it', async () => {
    const kns = await kubeNamespace({ prefix: 'warn' });
    const prefix = uniqueName('warnings');
    const first = await replica(kns, prefix);
    const second = await replica(kns, prefix, first.bot);
    // The second replica first: the first one's stop closes the Slack emulator they share.
    const stopped = new Set<TestBot>();
    stops.push(...[second.bot, first.bot].map((bot) => async () => (stopped.has(bot) ? (bot === first.bot ? bot.emulator.close() : undefined) : bot.stop())));
    const { emulator } = first.bot;
    const warningThreads = () => emulator.channelMessages(INCIDENT).filter((m) => first.bot.text(m).includes('Kubernetes warnings'));

    await createDeploymentWithHistory(kns, { name: 'backend', revisions: [{ image: 'registry.example/backend:1.4.2', crashing: true }] });
    const [parent] = await first.bot.eventually(() => {
      const threads = warningThreads();
      return threads.length > 0 && emulator.thread(INCIDENT, threads[0]!.ts).length > 0 && threads;
    }, 'the warnings thread', WAIT_MS);
    let text = first.bot.text(emulator.message(INCIDENT, parent!.ts)!);
    expect(text).toContain('Kubernetes warnings: Deployment backend');
    expect(text).toMatch(/CrashLoopBackOff\* 2 restarts, first seen \d\d:\d\d UTC, last seen \d\d:\d\d UTC/);
    expect(text).toContain('Pods affected (1)');
    expect(emulator.thread(INCIDENT, parent!.ts).map((m) => first.bot.text(m))).toEqual([expect.stringMatching(/^\*CrashLoopBackOff\* on backend-/)]);
    // Exactly one replica watches.
    expect([holdsLease(first.logs), holdsLease(second.logs)].filter(Boolean)).toHaveLength(1);

    // A repeat: a second pod of the Deployment crash-loops too; the parent is updated, nothing new is posted.
    await updateDeployment(kns, 'backend', (d) => void (d.spec!.replicas = 2));
    await first.bot.eventually(() => first.bot.text(emulator.message(INCIDENT, parent!.ts)!).includes('Pods affected (2)'), 'the parent to show the second pod', WAIT_MS);
    text = first.bot.text(emulator.message(INCIDENT, parent!.ts)!);
    expect(text).toMatch(/CrashLoopBackOff\* 4 restarts/);
    expect(warningThreads()).toHaveLength(1);
    expect(emulator.thread(INCIDENT, parent!.ts)).toHaveLength(1);
    const updates = emulator.calls('chat.update').length;

    // The replica holding the lease stops; the other one takes over, lists everything again and posts nothing twice.
    const [leader, standby] = holdsLease(first.logs) ? [first, second] : [second, first];
    // The replica's own stop (the Slack emulator stays up for the other one).
    await leader.bot.bot.stop();
    stopped.add(leader.bot);
    await standby.bot.eventually(() => holdsLease(standby.logs) && ['pods', 'events', 'jobs'].every((what) => standby.logs.some((l) => l.msg === 'kubernetes warnings: listed, watching' && l.stream === `${what} in ${kns.name}`)), 'the takeover', WAIT_MS);
    // Something new after the takeover: its update proves the relist was handled before it.
    const [pod] = await deploymentPods(kns, 'backend');
    await failedScheduling(kns, pod!.metadata!.name!, '0/1 nodes are available: <!channel> *Insufficient memory*.');
    await standby.bot.eventually(() => standby.bot.text(emulator.message(INCIDENT, parent!.ts)!).includes('FailedScheduling'), 'the parent to show FailedScheduling', WAIT_MS);
    await standby.bot.eventually(() => emulator.thread(INCIDENT, parent!.ts).length === 2, 'the FailedScheduling reply', WAIT_MS);
    text = standby.bot.text(emulator.message(INCIDENT, parent!.ts)!);
    expect(text).toMatch(/CrashLoopBackOff\* 4 restarts/);
    expect(text).toMatch(/FailedScheduling\* 3 attempts/);
    expect(warningThreads()).toHaveLength(1);
    expect(emulator.calls('chat.update').length).toBe(updates + 1);
    // Kubernetes' words are shown as written: no mention, no bold.
    const reply = emulator.thread(INCIDENT, parent!.ts)[1]!;
    expect(JSON.stringify(reply.blocks ?? reply.text)).toContain('&lt;!channel&gt;');
    expect(JSON.stringify(reply.blocks ?? reply.text)).not.toContain('<!channel>');

    // The buttons run the verbs for whoever clicks, with their guards: a viewer may not restart.
    await standby.bot.click(USERS.viewer, { channel: INCIDENT, ts: parent!.ts }, 'Restart');
    expect(standby.bot.ephemeralTexts(USERS.viewer).at(-1)).toContain('You are not allowed to run `restart`: it needs the operator role and you are viewer.');
    expect(emulator.calls('chat.postMessage').filter((c) => JSON.stringify(c).includes('Rollout restart'))).toEqual([]);
    // Status is a viewer's command: the same click runs it.
    await standby.bot.click(USERS.viewer, { channel: INCIDENT, ts: parent!.ts }, 'Status');
    await standby.bot.eventually(() => emulator.channelMessages(INCIDENT, { includeReplies: true }).some((m) => standby.bot.text(m).includes('Status of backend')), 'the status answer', WAIT_MS);
  }, 180_000);

  it('after a watch error (the Role unbound, then bound again) lists again: what happened meanwhile is posted, nothing twice', async () => {
    const kns = await kubeNamespace({ prefix: 'warn' });
    const only = await replica(kns, uniqueName('warnings'));
    stops.push(() => only.bot.stop());
    const { emulator } = only.bot;
    await createDeploymentWithHistory(kns, { name: 'worker', revisions: [{ image: 'registry.example/worker:2.0.0', crashing: true }] });
    const parent = await only.bot.eventually(() => {
      const [found] = emulator.channelMessages(INCIDENT).filter((m) => only.bot.text(m).includes('Kubernetes warnings: Deployment worker'));
      return found && emulator.thread(INCIDENT, found.ts).length > 0 && found;
    }, 'the warnings thread', WAIT_MS);
    const updates = emulator.calls('chat.update').length;

    // The bot loses its Role: the pod watch ends (the server closes it) and cannot be opened again.
    const rbac = kns.admin.makeApiClient(RbacAuthorizationV1Api);
    const binding = await rbac.readNamespacedRoleBinding({ name: BOT_ACCOUNT, namespace: kns.name });
    await rbac.deleteNamespacedRoleBinding({ name: BOT_ACCOUNT, namespace: kns.name });
    const failed = (l: { msg: string; stream?: string }) => l.msg === 'kubernetes warnings: watch failed, listing again' && l.stream === `pods in ${kns.name}`;
    await only.bot.eventually(() => only.logs.some(failed), 'the pod watch to fail', 60_000);
    // Meanwhile a second pod crash-loops, unseen.
    await updateDeployment(kns, 'worker', (d) => void (d.spec!.replicas = 2));
    await only.bot.eventually(async () => (await deploymentPods(kns, 'worker')).filter((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff').length === 2, 'both pods to crash-loop', WAIT_MS);
    const listedBefore = only.logs.filter((l) => l.msg === 'kubernetes warnings: listed, watching').length;
    await rbac.createNamespacedRoleBinding({ namespace: kns.name, body: { metadata: { name: BOT_ACCOUNT }, roleRef: binding.roleRef, subjects: binding.subjects } });

    await only.bot.eventually(() => only.bot.text(emulator.message(INCIDENT, parent.ts)!).includes('Pods affected (2)'), 'the parent to show the second pod', 90_000);
    expect(only.logs.filter((l) => l.msg === 'kubernetes warnings: listed, watching').length).toBeGreaterThan(listedBefore);
    expect(only.bot.text(emulator.message(INCIDENT, parent.ts)!)).toMatch(/CrashLoopBackOff\* 4 restarts/);
    expect(emulator.channelMessages(INCIDENT).filter((m) => only.bot.text(m).includes('Kubernetes warnings'))).toHaveLength(1);
    expect(emulator.thread(INCIDENT, parent.ts)).toHaveLength(1);
    expect(emulator.calls('chat.update').length).toBe(updates + 1);
  }, 240_000);
});

describe('what the watcher reports', () => {
  const now = new Date('2026-12-05T03:00:00Z');

  it('reads OOMKilled, image pull failures and crash loops from container states, each counted as Kubernetes counts it', () => {
    const pod = {
      metadata: { name: 'worker-7d9-abc', uid: 'u1', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'worker-7d9', uid: 'r1', controller: true }] },
      status: {
        containerStatuses: [
          { name: 'app', image: 'x', imageID: '', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=app password=hunter2' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: new Date('2026-12-05T02:58:00Z') } } },
          { name: 'sidecar', image: 'y', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "y"' } } },
          { name: 'fine', image: 'z', imageID: '', ready: true, restartCount: 0, state: { running: {} } },
        ],
      },
    };
    const seen = podSightings(pod, now);
    expect(seen.map((s) => [s.reason, s.count, s.source, s.pod])).toEqual([
      ['CrashLoopBackOff', 3, 'pod/u1/app/CrashLoopBackOff', 'worker-7d9-abc'],
      ['OOMKilled', 3, 'pod/u1/app/OOMKilled', 'worker-7d9-abc'],
      ['ImagePullBackOff', 1, 'pod/u1/sidecar/ImagePullBackOff', 'worker-7d9-abc'],
    ]);
    expect(seen[0]!.message).not.toContain('hunter2');
    expect(seen[1]!.at.toISOString()).toBe('2026-12-05T02:58:00.000Z');
    expect(seen[0]!.object.owners?.[0]?.name).toBe('worker-7d9');
  });

  it('reports FailedScheduling events of the last hour only, and Jobs whose Failed condition is true', () => {
    const event = (minutesAgo: number, reason = 'FailedScheduling') => ({
      metadata: { name: 'e', uid: 'e1' },
      involvedObject: { kind: 'Pod', name: 'p' },
      reason,
      type: 'Warning',
      count: 5,
      message: '0/3 nodes are available',
      lastTimestamp: new Date(now.getTime() - minutesAgo * 60_000),
    });
    expect(eventSighting(event(5), now)).toMatchObject({ reason: 'FailedScheduling', count: 5, source: 'event/e1', pod: 'p' });
    expect(eventSighting(event(61), now)).toBeUndefined();
    expect(eventSighting(event(1, 'BackOff'), now)).toBeUndefined();
    const job = (status: string) => ({ metadata: { name: 'nightly', uid: 'j1' }, status: { conditions: [{ type: 'Failed', status, reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] } });
    expect(jobSighting(job('True'), now)).toMatchObject({ reason: 'JobFailed', count: 1, object: { kind: 'Job', name: 'nightly' }, message: 'BackoffLimitExceeded: Job has reached the specified backoff limit' });
    expect(jobSighting(job('False'), now)).toBeUndefined();
  });

  it('needs a channel when enabled', () => {
    expect(() => parseConfig({ kubernetes: { warnings: { enabled: true } } })).toThrow('kubernetes.warnings.channel: required when kubernetes.warnings.enabled is true and channels.incident is not set');
    expect(parseConfig({ channels: { incident: 'C0INC' }, kubernetes: { warnings: { enabled: true } } }).kubernetes.warnings).toEqual({ enabled: true, updateEvery: '30s', threadFor: '24h' });
  });
});
