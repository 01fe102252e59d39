import { beforeAll, describe, expect, it } from 'vitest';
import { UserFacingError } from '../../src/core/types.ts';
import type { KubeClients } from '../../src/core/types.ts';
import {
  CHANGE_CAUSE_ANNOTATION,
  RESTARTED_AT_ANNOTATION,
  planUndo,
  readDeployment,
  rolloutHistory,
  rolloutRestart,
  runJob,
  selectorString,
  streamPodLog,
  undoDeployment,
  waitForRollout,
} from '../../commands/shared/kube.ts';
import type { FakeKube } from '../harness/fake-kube.ts';
import { uniqueName } from '../harness/env.ts';
import { startFakeKube } from './kube-helpers.ts';

let fake: FakeKube;
let kube: KubeClients;

beforeAll(async () => {
  ({ fake, kube } = await startFakeKube());
});

/** A namespace of its own per test, so tests never see each other's objects. */
function namespace(): string {
  const ns = uniqueName('ns');
  fake.seedNamespace(ns);
  return ns;
}

function seedWeb(ns: string, name = 'web') {
  return fake.seedDeployment({
    namespace: ns,
    name,
    image: 'registry.example/web:3.0',
    changeCause: 'deploy 3.0',
    replicas: 2,
    revisions: [
      { image: 'registry.example/web:1.0', changeCause: 'deploy 1.0' },
      { image: 'registry.example/web:2.0', changeCause: 'deploy 2.0' },
    ],
  });
}

describe('selectorString', () => {
  it('renders matchLabels and every matchExpressions operator', () => {
    expect(
      selectorString({
        matchLabels: { app: 'web', tier: 'api' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['prod', 'staging'] },
          { key: 'canary', operator: 'NotIn', values: ['true'] },
          { key: 'team', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('app=web,tier=api,env in (prod,staging),canary notin (true),team,!legacy');
  });
});

describe('rollout history', () => {
  it('lists every revision with images, change-cause, creation, readiness and the live one', async () => {
    const ns = namespace();
    seedWeb(ns);
    // Another Deployment with overlapping labels must not leak into the history.
    fake.seedDeployment({ namespace: ns, name: 'web-worker', image: 'registry.example/worker:1', labels: { app: 'web' } });
    const history = await rolloutHistory(kube, ns, 'web');
    expect(history.revisions.map((r) => r.revision)).toEqual([1, 2, 3]);
    expect(history.revisions.map((r) => r.images)).toEqual([['registry.example/web:1.0'], ['registry.example/web:2.0'], ['registry.example/web:3.0']]);
    expect(history.revisions.map((r) => r.changeCause)).toEqual(['deploy 1.0', 'deploy 2.0', 'deploy 3.0']);
    expect(history.live?.revision).toBe(3);
    expect(history.revisions.filter((r) => r.live)).toHaveLength(1);
    expect(history.live?.readyReplicas).toBe(2);
    expect(history.revisions[0]!.created).toBeInstanceOf(Date);
  });

  it('says clearly when the Deployment does not exist', async () => {
    const ns = namespace();
    await expect(rolloutHistory(kube, ns, 'nope')).rejects.toThrow(`Deployment nope not found in namespace ${ns}`);
  });
});

describe('undo (rollout undo)', () => {
  it('rolls back to the previous revision like kubectl: template copied, change-cause set, new revision live', async () => {
    const ns = namespace();
    seedWeb(ns);
    const plan = await planUndo(kube, ns, 'web');
    expect(plan).toMatchObject({ fromRevision: 3, toRevision: 2, toImages: ['registry.example/web:2.0'], alreadyCurrent: false });
    const result = await undoDeployment(kube, ns, 'web', { changeCause: 'rollback: bad release' });
    expect(result.toRevision).toBe(2);
    const dep = await readDeployment(kube, ns, 'web');
    expect(dep.spec?.template?.spec?.containers[0]?.image).toBe('registry.example/web:2.0');
    expect(dep.metadata?.annotations?.[CHANGE_CAUSE_ANNOTATION]).toBe('rollback: bad release');
    // The pod-template-hash label of the ReplicaSet must not be copied into the Deployment.
    expect(dep.spec?.template?.metadata?.labels?.['pod-template-hash']).toBeUndefined();
    const done = await waitForRollout(kube, ns, { kind: 'Deployment', name: 'web' }, { timeoutMs: 10_000, pollMs: 10, minGeneration: result.generation });
    expect(done).toMatchObject({ done: true, timedOut: false, updated: 2, available: 2 });
    const history = await rolloutHistory(kube, ns, 'web');
    // Revision 2's ReplicaSet becomes revision 4, as with kubectl.
    expect(history.live?.revision).toBe(4);
    expect(history.live?.images).toEqual(['registry.example/web:2.0']);
    expect(history.revisions.map((r) => r.revision)).toEqual([1, 3, 4]);
  });

  it('rolls back to a given revision', async () => {
    const ns = namespace();
    seedWeb(ns);
    const result = await undoDeployment(kube, ns, 'web', { toRevision: 1 });
    expect(result).toMatchObject({ fromRevision: 3, toRevision: 1 });
    expect((await readDeployment(kube, ns, 'web')).spec?.template?.spec?.containers[0]?.image).toBe('registry.example/web:1.0');
  });

  it('refuses an unknown revision and changes nothing', async () => {
    const ns = namespace();
    seedWeb(ns);
    const before = await readDeployment(kube, ns, 'web');
    await expect(undoDeployment(kube, ns, 'web', { toRevision: 9 })).rejects.toThrow('has no revision 9 (known: 1, 2, 3)');
    expect((await readDeployment(kube, ns, 'web')).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  });

  it('refuses when there is no previous revision', async () => {
    const ns = namespace();
    fake.seedDeployment({ namespace: ns, name: 'solo', image: 'solo:1' });
    await expect(undoDeployment(kube, ns, 'solo')).rejects.toThrow('no previous revision');
  });

  it('does nothing when the target revision is already live', async () => {
    const ns = namespace();
    seedWeb(ns);
    const before = await readDeployment(kube, ns, 'web');
    const result = await undoDeployment(kube, ns, 'web', { toRevision: 3 });
    expect(result.alreadyCurrent).toBe(true);
    expect((await readDeployment(kube, ns, 'web')).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  });

  it('is guarded by resourceVersion: a change between read and patch gives 409 and leaves the Deployment as the other writer left it', async () => {
    const ns = namespace();
    seedWeb(ns);
    // Another writer changes the Deployment right after the history was read.
    const racing: KubeClients = {
      ...kube,
      apps: new Proxy(kube.apps, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (prop !== 'listNamespacedReplicaSet' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
          return async (...args: unknown[]) => {
            const list = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            const dep = await kube.apps.readNamespacedDeployment({ name: 'web', namespace: ns });
            dep.spec!.replicas = 5;
            await kube.apps.replaceNamespacedDeployment({ name: 'web', namespace: ns, body: dep });
            return list;
          };
        },
      }),
    };
    await expect(undoDeployment(racing, ns, 'web')).rejects.toThrow(/changed by someone else.*409.*nothing was changed/);
    const after = await readDeployment(kube, ns, 'web');
    expect(after.spec?.replicas).toBe(5);
    expect(after.spec?.template?.spec?.containers[0]?.image).toBe('registry.example/web:3.0');
    const patch = fake.requestsMatching('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/web`).at(-1);
    expect(patch?.contentType).toBe('application/json-patch+json');
  });
});

describe('waitForRollout', () => {
  it('waits while new pods are starting, then reports the rollout complete', async () => {
    const ns = namespace();
    seedWeb(ns);
    fake.setRolloutBehaviour(ns, 'web', 'ready', { readyAfterPolls: 3 });
    const { generation } = await rolloutRestart(kube, ns, { kind: 'Deployment', name: 'web' }, new Date('2025-11-10T03:00:00Z'));
    const messages: string[] = [];
    const outcome = await waitForRollout(kube, ns, { kind: 'Deployment', name: 'web' }, { timeoutMs: 20_000, pollMs: 5, minGeneration: generation, onProgress: (s) => void messages.push(s.message) });
    expect(outcome.done).toBe(true);
    expect(messages.length).toBeGreaterThan(1);
    expect(messages.at(-1)).toContain('2/2 replicas updated and available');
  });

  it('stops at the progress deadline of a stuck rollout', async () => {
    const ns = namespace();
    seedWeb(ns);
    fake.setRolloutBehaviour(ns, 'web', 'stuck', { deadlineAfterPolls: 2 });
    const { generation } = await rolloutRestart(kube, ns, { kind: 'Deployment', name: 'web' }, new Date());
    const outcome = await waitForRollout(kube, ns, { kind: 'Deployment', name: 'web' }, { timeoutMs: 20_000, pollMs: 5, minGeneration: generation });
    expect(outcome).toMatchObject({ done: false, failed: true, timedOut: false });
    expect(outcome.message).toContain('exceeded its progress deadline');
  });

  it('gives up at the timeout and says where the rollout stands', async () => {
    const ns = namespace();
    seedWeb(ns);
    fake.setRolloutBehaviour(ns, 'web', 'stuck');
    const { generation } = await rolloutRestart(kube, ns, { kind: 'Deployment', name: 'web' }, new Date());
    const outcome = await waitForRollout(kube, ns, { kind: 'Deployment', name: 'web' }, { timeoutMs: 200, pollMs: 20, minGeneration: generation });
    expect(outcome).toMatchObject({ done: false, failed: false, timedOut: true });
    expect(outcome.available).toBeLessThan(outcome.desired + 1);
  });
});

describe('rolloutRestart', () => {
  it('restarts a StatefulSet and follows it until ready', async () => {
    const ns = namespace();
    fake.seedStatefulSet({ namespace: ns, name: 'db', image: 'postgres:15', replicas: 2 });
    const at = new Date('2025-11-10T03:04:05Z');
    const { generation } = await rolloutRestart(kube, ns, { kind: 'StatefulSet', name: 'db' }, at);
    const sts = fake.getStatefulSet(ns, 'db');
    expect(sts?.spec.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBe(at.toISOString());
    const outcome = await waitForRollout(kube, ns, { kind: 'StatefulSet', name: 'db' }, { timeoutMs: 10_000, pollMs: 5, minGeneration: generation });
    expect(outcome).toMatchObject({ done: true, ready: 2, desired: 2 });
  });

  it('says which workload is missing', async () => {
    const ns = namespace();
    await expect(rolloutRestart(kube, ns, { kind: 'StatefulSet', name: 'db' }, new Date())).rejects.toThrow(UserFacingError);
  });
});

describe('pod logs', () => {
  it('streams a log line by line, following until the container ends', async () => {
    const ns = namespace();
    const name = uniqueName('job');
    fake.setJobOutcome(name, { succeed: true, hold: true });
    await kube.batch.createNamespacedJob({
      namespace: ns,
      body: { metadata: { name }, spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] } } } },
    });
    const pod = fake.getJobPods(ns, name)[0]!.metadata.name!;
    fake.appendLogs(ns, pod, ['first line']);
    const seen: string[] = [];
    const streaming = streamPodLog(kube, ns, pod, (line) => {
      seen.push(line);
      if (line === 'first line') fake.appendLogs(ns, pod, ['second line', 'third line']);
      if (line === 'third line') fake.endLogStream(ns, pod);
    }, { follow: true });
    await streaming;
    expect(seen).toEqual(['first line', 'second line', 'third line']);
  });
});

describe('runJob', () => {
  function jobSpec(prefix: string) {
    return {
      metadata: { generateName: `${prefix}-` },
      spec: { backoffLimit: 0, ttlSecondsAfterFinished: 3600, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'app:1', command: ['run'] }] } } },
    };
  }

  it('streams the log, reports exit code 0 and deletes the Job on success', async () => {
    const ns = namespace();
    const prefix = uniqueName('ok');
    fake.setJobOutcome(prefix, { succeed: true, logs: ['INFO step 1', 'INFO step 2 password=hunter2'] });
    const lines: string[] = [];
    const outcome = await runJob(kube, ns, jobSpec(prefix), { timeoutMs: 10_000, pollMs: 5, onLine: (l) => void lines.push(l) });
    expect(outcome).toMatchObject({ succeeded: true, exitCode: 0, deleted: true, timedOut: false });
    expect(outcome.name.startsWith(`${prefix}-`)).toBe(true);
    expect(lines).toEqual(['INFO step 1', 'INFO step 2 password=hunter2']);
    expect(fake.getJob(ns, outcome.name)).toBeUndefined();
  });

  it('reports the exit code of a failed Job, with its log, and deletes it', async () => {
    const ns = namespace();
    const prefix = uniqueName('bad');
    fake.setJobOutcome(prefix, { succeed: false, exitCode: 3, logs: ['ERROR relation "users" does not exist'], afterPolls: 2 });
    const lines: string[] = [];
    const outcome = await runJob(kube, ns, jobSpec(prefix), { timeoutMs: 10_000, pollMs: 5, onLine: (l) => void lines.push(l) });
    expect(outcome).toMatchObject({ succeeded: false, exitCode: 3, deleted: true });
    expect(outcome.reason).toContain('BackoffLimitExceeded');
    expect(lines).toContain('ERROR relation "users" does not exist');
    expect(fake.getJob(ns, outcome.name)).toBeUndefined();
  });

  it('stops waiting at the timeout and says so', async () => {
    const ns = namespace();
    const prefix = uniqueName('slow');
    fake.setJobOutcome(prefix, { succeed: true, hold: true });
    const outcome = await runJob(kube, ns, jobSpec(prefix), { timeoutMs: 150, pollMs: 20 });
    expect(outcome).toMatchObject({ succeeded: false, timedOut: true, deleted: false });
    expect(fake.getJob(ns, outcome.name)).toBeDefined();
  });
});
