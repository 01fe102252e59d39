import { describe, expect, it } from 'vitest';
import { UserFacingError } from '../../src/core/types.ts';
import type { KubeClients } from '../../src/core/types.ts';
import { CHANGE_CAUSE_ANNOTATION, RESTARTED_AT_ANNOTATION, readDeployment, selectorString } from '../../commands/shared/kube.ts';
import { planUndo, rolloutHistory, rolloutRestart, undoDeployment, waitForRollout } from '../../commands/shared/kube-rollouts.ts';
import { streamPodLog } from '../../commands/shared/kube-logs.ts';
import { runJob } from '../../commands/shared/kube-jobs.ts';
import { kubeClientsFrom } from '../../src/clients.ts';
import { uniqueName } from '../harness/env.ts';
import { RESTART_COUNT_ENV, createDeployment, createDeploymentWithHistory, deploymentPods, failingCommand, kubeNamespace, podsIn, setNamespaceLogs, setPodLogs, updateDeployment } from '../harness/kube-env.ts';
import type { TestNamespace } from '../harness/kube-env.ts';
import { waitUntil } from '../harness/services.ts';

/** The namespace of the current test; `kube` is the bot's clients there (under its Role). */
let kns: TestNamespace;
let kube: KubeClients;

/** A namespace of its own per test on the test control plane, so tests never see each other's objects. */
async function namespace(): Promise<string> {
  kns = await kubeNamespace();
  kube = kubeClientsFrom(kns.bot);
  return kns.name;
}

async function seedWeb(_ns: string, name = 'web') {
  return createDeploymentWithHistory(kns, {
    name,
    replicas: 2,
    revisions: [
      { image: 'registry.example/web:1.0', changeCause: 'deploy 1.0' },
      { image: 'registry.example/web:2.0', changeCause: 'deploy 2.0' },
      { image: 'registry.example/web:3.0', changeCause: 'deploy 3.0' },
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
    const ns = await namespace();
    await seedWeb(ns);
    // Another Deployment with overlapping labels must not leak into the history.
    const worker = { app: 'web', role: 'worker' };
    await kns.kube.apps.createNamespacedDeployment({
      namespace: ns,
      body: { metadata: { name: 'web-worker', labels: worker }, spec: { selector: { matchLabels: worker }, template: { metadata: { labels: worker }, spec: { containers: [{ name: 'worker', image: 'registry.example/worker:1' }] } } } },
    });
    await waitUntil('the worker ReplicaSet', 30_000, async () => (await kns.kube.apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'role=worker' })).items.length > 0);
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
    const ns = await namespace();
    await expect(rolloutHistory(kube, ns, 'nope')).rejects.toThrow(`Deployment nope not found in namespace ${ns}`);
  });
});

describe('undo (rollout undo)', () => {
  it('rolls back to the previous revision like kubectl: template copied, change-cause set, new revision live', async () => {
    const ns = await namespace();
    await seedWeb(ns);
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
    const ns = await namespace();
    await seedWeb(ns);
    const result = await undoDeployment(kube, ns, 'web', { toRevision: 1 });
    expect(result).toMatchObject({ fromRevision: 3, toRevision: 1 });
    expect((await readDeployment(kube, ns, 'web')).spec?.template?.spec?.containers[0]?.image).toBe('registry.example/web:1.0');
  });

  it('refuses an unknown revision and changes nothing', async () => {
    const ns = await namespace();
    await seedWeb(ns);
    const before = await readDeployment(kube, ns, 'web');
    await expect(undoDeployment(kube, ns, 'web', { toRevision: 9 })).rejects.toThrow('has no revision 9 (known: 1, 2, 3)');
    expect((await readDeployment(kube, ns, 'web')).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  });

  it('refuses when there is no previous revision', async () => {
    const ns = await namespace();
    await createDeployment(kns, { name: 'solo', image: 'solo:1' });
    await expect(undoDeployment(kube, ns, 'solo')).rejects.toThrow('no previous revision');
  });

  it('does nothing when the target revision is already live', async () => {
    const ns = await namespace();
    await seedWeb(ns);
    const before = await readDeployment(kube, ns, 'web');
    const result = await undoDeployment(kube, ns, 'web', { toRevision: 3 });
    expect(result.alreadyCurrent).toBe(true);
    expect((await readDeployment(kube, ns, 'web')).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  });

  it('is guarded by resourceVersion: a template change between read and patch gives 409 and leaves the Deployment as the other writer left it', async () => {
    const ns = await namespace();
    await seedWeb(ns);
    // Another writer changes the Deployment right after the history was read.
    const racing: KubeClients = {
      ...kube,
      apps: new Proxy(kube.apps, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (prop !== 'listNamespacedReplicaSet' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
          return async (...args: unknown[]) => {
            const list = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            await updateDeployment(kns, 'web', (dep) => {
              dep.spec!.template!.spec!.containers[0]!.image = 'registry.example/web:5.0';
            });
            return list;
          };
        },
      }),
    };
    await expect(undoDeployment(racing, ns, 'web')).rejects.toThrow(/changed by someone else.*409.*nothing was changed/);
    const after = await readDeployment(kube, ns, 'web');
    expect(after.spec?.template?.spec?.containers[0]?.image).toBe('registry.example/web:5.0');
    expect(after.metadata?.annotations?.[CHANGE_CAUSE_ANNOTATION]).toBe('deploy 3.0');
  });
});

describe('waitForRollout', () => {
  it('waits while new pods are starting, then reports the rollout complete', async () => {
    const ns = await namespace();
    await seedWeb(ns);
    const { generation } = await rolloutRestart(kube, ns, { kind: 'Deployment', name: 'web' }, new Date('2025-11-10T03:00:00Z'));
    const messages: string[] = [];
    const outcome = await waitForRollout(kube, ns, { kind: 'Deployment', name: 'web' }, { timeoutMs: 20_000, pollMs: 5, minGeneration: generation, onProgress: (s) => void messages.push(s.message) });
    expect(outcome.done).toBe(true);
    expect(messages.at(-1)).toContain('2/2 replicas updated and available');
  });

  it('gives up at the timeout and says where the rollout stands', async () => {
    const ns = await namespace();
    await seedWeb(ns);
    // A new revision whose pods crash-loop: the rollout cannot finish.
    const changed = await updateDeployment(kns, 'web', (dep) => {
      dep.spec!.template!.spec!.containers[0]!.env = [{ name: RESTART_COUNT_ENV, value: '1' }];
    });
    const outcome = await waitForRollout(kube, ns, { kind: 'Deployment', name: 'web' }, { timeoutMs: 1500, pollMs: 100, minGeneration: changed.metadata?.generation });
    expect(outcome).toMatchObject({ done: false, failed: false, timedOut: true });
    expect(outcome.available).toBeLessThan(outcome.desired + 1);
  });
});

describe('rolloutRestart', () => {
  it('restarts a StatefulSet and follows it until ready', async () => {
    const ns = await namespace();
    const labels = { app: 'db' };
    await kns.kube.apps.createNamespacedStatefulSet({
      namespace: ns,
      body: { metadata: { name: 'db', labels }, spec: { serviceName: 'db', replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'postgres', image: 'postgres:15' }] } } } },
    });
    await waitUntil('both database pods', 30_000, async () => (await podsIn(kns, 'app=db')).filter((p) => p.status?.phase === 'Running').length === 2);
    const before = (await podsIn(kns, 'app=db')).map((p) => p.metadata!.uid);
    const at = new Date('2025-11-10T03:04:05Z');
    const { generation } = await rolloutRestart(kube, ns, { kind: 'StatefulSet', name: 'db' }, at);
    const sts = await kns.kube.apps.readNamespacedStatefulSet({ name: 'db', namespace: ns });
    expect(sts.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBe(at.toISOString());
    const outcome = await waitForRollout(kube, ns, { kind: 'StatefulSet', name: 'db' }, { timeoutMs: 30_000, pollMs: 100, minGeneration: generation });
    expect((await podsIn(kns, 'app=db')).map((p) => p.metadata!.uid).filter((uid) => before.includes(uid))).toEqual([]);
    expect(outcome).toMatchObject({ done: true, ready: 2, desired: 2 });
  });

  it('says which workload is missing', async () => {
    const ns = await namespace();
    await expect(rolloutRestart(kube, ns, { kind: 'StatefulSet', name: 'db' }, new Date())).rejects.toThrow(UserFacingError);
  });
});

describe('pod logs', () => {
  it('streams a log line by line while following, and ends quietly when stopped', async () => {
    const ns = await namespace();
    await createDeployment(kns, { name: 'web', image: 'web:1' });
    const [pod] = (await deploymentPods(kns, 'web')).map((p) => p.metadata!.name!);
    const append = await setPodLogs(kns, pod!, { web: { lines: ['first line'] } });
    const seen: string[] = [];
    const stop = new AbortController();
    await streamPodLog(kube, ns, pod!, (line) => {
      seen.push(line);
      if (line === 'first line') append('web', ['second line', 'third line']);
      if (line === 'third line') stop.abort();
    }, { follow: true, signal: stop.signal });
    expect(seen).toEqual(['first line', 'second line', 'third line']);
  });
});

describe('runJob', () => {
  function jobSpec(prefix: string, options: { command?: string[]; unschedulable?: boolean } = {}) {
    const nodeSelector = options.unschedulable ? { 'autostack.test/none': 'x' } : undefined;
    return {
      metadata: { generateName: `${prefix}-` },
      spec: { backoffLimit: 0, ttlSecondsAfterFinished: 3600, template: { spec: { restartPolicy: 'Never', nodeSelector, containers: [{ name: 'main', image: 'app:1', command: options.command ?? ['run'] }] } } },
    };
  }

  /** Every pod of the namespace (the Job's too) serves `lines` as its log. */
  async function namespaceLogs(lines: string[]) {
    await createDeployment(kns, { name: 'anchor', image: 'anchor:1' });
    const [pod] = (await deploymentPods(kns, 'anchor')).map((p) => p.metadata!.name!);
    await setNamespaceLogs(kns, pod!, lines);
  }

  async function jobExists(ns: string, name: string): Promise<boolean> {
    try {
      await kns.kube.batch.readNamespacedJob({ name, namespace: ns });
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 404) return false;
      throw error;
    }
  }

  it('streams the log, reports exit code 0 and deletes the Job on success', async () => {
    const ns = await namespace();
    const prefix = uniqueName('ok');
    await namespaceLogs(['INFO step 1', 'INFO step 2 password=hunter2']);
    const lines: string[] = [];
    const outcome = await runJob(kube, ns, jobSpec(prefix), { timeoutMs: 30_000, pollMs: 100, onLine: (l) => void lines.push(l) });
    expect(outcome).toMatchObject({ succeeded: true, exitCode: 0, deleted: true, timedOut: false });
    expect(outcome.name.startsWith(`${prefix}-`)).toBe(true);
    expect(lines).toEqual(['INFO step 1', 'INFO step 2 password=hunter2']);
    expect(await jobExists(ns, outcome.name)).toBe(false);
  });

  it('reports the exit code of a failed Job, with its log, and deletes it', async () => {
    const ns = await namespace();
    const prefix = uniqueName('bad');
    await namespaceLogs(['ERROR relation "users" does not exist']);
    const lines: string[] = [];
    const outcome = await runJob(kube, ns, jobSpec(prefix, { command: failingCommand(3) }), { timeoutMs: 30_000, pollMs: 100, onLine: (l) => void lines.push(l) });
    expect(outcome).toMatchObject({ succeeded: false, exitCode: 3, deleted: true });
    expect(outcome.reason).toContain('BackoffLimitExceeded');
    expect(lines).toContain('ERROR relation "users" does not exist');
    expect(await jobExists(ns, outcome.name)).toBe(false);
  });

  it('stops waiting at the timeout and says so', async () => {
    const ns = await namespace();
    const prefix = uniqueName('slow');
    // Its pod can go to no node: it stays Pending.
    const outcome = await runJob(kube, ns, jobSpec(prefix, { unschedulable: true }), { timeoutMs: 1500, pollMs: 100 });
    expect(outcome).toMatchObject({ succeeded: false, timedOut: true, deleted: false });
    expect(await jobExists(ns, outcome.name)).toBe(true);
  });
});
