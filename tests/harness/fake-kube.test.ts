/**
 * Pins the behaviour of the fake Kubernetes API server that the bot relies
 * on, using the real @kubernetes/client-node over HTTP.
 */
import { PassThrough } from 'node:stream';
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  Log,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { KubeConfig, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHANGE_CAUSE_ANNOTATION,
  FakeKube,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  kubeconfigFor,
  makeKubeConfig,
} from './fake-kube.ts';
import type { Pod, StatusBody } from './fake-kube.ts';

const NS = 'autostack';

let kube: FakeKube;
let kc: KubeConfig;
let apps: AppsV1Api;
let core: CoreV1Api;
let batch: BatchV1Api;
let net: NetworkingV1Api;

beforeEach(async () => {
  kube = await FakeKube.start();
  kc = kube.kubeConfig({ namespace: NS });
  apps = kc.makeApiClient(AppsV1Api);
  core = kc.makeApiClient(CoreV1Api);
  batch = kc.makeApiClient(BatchV1Api);
  net = kc.makeApiClient(NetworkingV1Api);
});

afterEach(async () => {
  await kube.close();
});

/** Awaits a rejected client call and returns its ApiException and parsed Status body. */
async function apiError(call: Promise<unknown>): Promise<{ code: number; status: StatusBody }> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiException);
  const apiErr = err as ApiException<string>;
  return { code: apiErr.code, status: JSON.parse(apiErr.body) as StatusBody };
}

/** Waits (without asserting on time) until `check` returns a value. */
async function until<T>(check: () => T | undefined | false, what: string): Promise<T> {
  for (let i = 0; i < 2000; i++) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategicPatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

function revisions(name: string): Array<{ revision: number; image: string | undefined; replicas: number; cause: string | undefined }> {
  return kube.getReplicaSets(NS, name).map((rs) => ({
    revision: Number(rs.metadata.annotations?.[REVISION_ANNOTATION]),
    image: rs.spec.template.spec.containers[0]?.image,
    replicas: rs.spec.replicas ?? 0,
    cause: rs.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION],
  }));
}

function seedWeb(extra: Partial<Parameters<FakeKube['seedDeployment']>[0]> = {}) {
  return kube.seedDeployment({
    namespace: NS,
    name: 'web',
    image: 'registry.local/web:3',
    changeCause: 'deploy v3',
    revisions: [
      { image: 'registry.local/web:1', changeCause: 'deploy v1' },
      { image: 'registry.local/web:2', changeCause: 'deploy v2' },
    ],
    replicas: 3,
    containerName: 'app',
    ...extra,
  });
}

/** What `kubectl rollout restart` sends. */
async function rolloutRestart(name: string, at = '2025-01-01T00:00:00Z'): Promise<V1Deployment> {
  return apps.patchNamespacedDeployment(
    {
      name,
      namespace: NS,
      body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at } } } } },
    },
    strategicPatch,
  );
}

/** What `kubectl rollout undo --to-revision=N` does: copy that ReplicaSet's template back via JSON patch. */
async function rolloutUndo(name: string, toRevision: number): Promise<V1Deployment> {
  const dep = await apps.readNamespacedDeployment({ name, namespace: NS });
  const selector = Object.entries(dep.spec?.selector.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const sets = await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: selector });
  const target = sets.items.find(
    (rs) =>
      rs.metadata?.ownerReferences?.some((o) => o.uid === dep.metadata?.uid) &&
      rs.metadata?.annotations?.[REVISION_ANNOTATION] === String(toRevision),
  );
  if (!target?.spec?.template) throw new Error(`revision ${toRevision} not found`);
  const raw = kube.getObject('replicasets', NS, target.metadata?.name ?? '');
  const template = structuredClone((raw?.spec as { template: { metadata: { labels: Record<string, string> } } }).template);
  delete template.metadata.labels['pod-template-hash'];
  const annotations = { ...(dep.metadata?.annotations ?? {}) };
  const cause = target.metadata?.annotations?.[CHANGE_CAUSE_ANNOTATION];
  if (cause) annotations[CHANGE_CAUSE_ANNOTATION] = cause;
  return apps.patchNamespacedDeployment(
    {
      name,
      namespace: NS,
      body: [
        { op: 'replace', path: '/spec/template', value: template },
        { op: 'replace', path: '/metadata/annotations', value: annotations },
      ],
    },
    jsonPatch,
  );
}

function progressing(dep: V1Deployment): string | undefined {
  return dep.status?.conditions?.find((c) => c.type === 'Progressing')?.reason;
}

describe('kubeconfig', () => {
  it('produces a YAML kubeconfig with the server URL and token user', () => {
    const yaml = kubeconfigFor(kube, { namespace: 'ops' });
    expect(yaml).toContain(`server: ${kube.url}`);
    expect(yaml).toContain(`token: ${kube.token}`);
    const loaded = makeKubeConfig({ url: kube.url, token: kube.token }, { namespace: 'ops' });
    expect(loaded.getCurrentCluster()?.server).toBe(kube.url);
    expect(loaded.getContextObject(loaded.getCurrentContext())?.namespace).toBe('ops');
  });

  it('rejects a wrong bearer token with a 401 Status', async () => {
    const other = makeKubeConfig({ url: kube.url, token: 'wrong' }).makeApiClient(CoreV1Api);
    const err = await other.listNamespace().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(401);
  });
});

describe('namespaces', () => {
  it('creates, gets and lists namespaces; duplicates are AlreadyExists', async () => {
    await core.createNamespace({ body: { metadata: { name: NS } } });
    const ns = await core.readNamespace({ name: NS });
    expect(ns.status?.phase).toBe('Active');
    expect(ns.metadata?.labels?.['kubernetes.io/metadata.name']).toBe(NS);
    const names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
    expect(names).toEqual(expect.arrayContaining(['default', NS]));

    const dup = await apiError(core.createNamespace({ body: { metadata: { name: NS } } }));
    expect(dup.code).toBe(409);
    expect(dup.status).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'AlreadyExists', code: 409 });

    const missing = await apiError(core.readNamespace({ name: 'nope' }));
    expect(missing.status).toMatchObject({ reason: 'NotFound', message: 'namespaces "nope" not found', details: { name: 'nope', kind: 'namespaces' } });
  });

  it('refuses objects in a namespace that does not exist', async () => {
    const err = await apiError(core.createNamespacedSecret({ namespace: 'ghost', body: { metadata: { name: 's' } } }));
    expect(err.code).toBe(404);
    expect(err.status.message).toBe('namespaces "ghost" not found');
  });
});

describe('deployments', () => {
  it('answers a missing deployment with a 404 NotFound Status carried by the client error', async () => {
    kube.seedNamespace(NS);
    const err = await apiError(apps.readNamespacedDeployment({ name: 'ghost', namespace: NS }));
    expect(err.code).toBe(404);
    expect(err.status).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'deployments.apps "ghost" not found',
      reason: 'NotFound',
      details: { name: 'ghost', group: 'apps', kind: 'deployments' },
      code: 404,
    });
  });

  it('creates a deployment through the API and rolls it out with a first ReplicaSet', async () => {
    kube.seedNamespace(NS);
    const created = await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'api', annotations: { [CHANGE_CAUSE_ANNOTATION]: 'initial' } },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'api' } },
          template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'api', image: 'api:1' }] } },
        },
      },
    });
    expect(created.metadata?.generation).toBe(1);
    expect(created.spec?.strategy?.type).toBe('RollingUpdate');

    const dep = await apps.readNamespacedDeployment({ name: 'api', namespace: NS });
    expect(dep.metadata?.annotations?.[REVISION_ANNOTATION]).toBe('1');
    expect(dep.status).toMatchObject({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    expect(progressing(dep)).toBe('NewReplicaSetAvailable');

    const [rs] = kube.getReplicaSets(NS, 'api');
    expect(rs?.metadata.name).toMatch(/^api-[bcdfghjklmnpqrstvwxz2456789]+$/);
    expect(rs?.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION]).toBe('initial');
    expect(rs?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Deployment', name: 'api', uid: dep.metadata?.uid, controller: true });
    const hash = rs?.metadata.labels?.['pod-template-hash'];
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: `app=api,pod-template-hash=${hash}` });
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.metadata?.name?.startsWith(`${rs?.metadata.name}-`)).toBe(true);
      expect(pod.metadata?.name?.length).toBe((rs?.metadata.name?.length ?? 0) + 6);
      expect(pod.status?.phase).toBe('Running');
      expect(pod.status?.containerStatuses?.[0]).toMatchObject({ name: 'api', ready: true, restartCount: 0 });
    }
  });

  it('rejects a deployment whose selector does not match the template labels (422 Invalid)', async () => {
    kube.seedNamespace(NS);
    const err = await apiError(
      apps.createNamespacedDeployment({
        namespace: NS,
        body: {
          metadata: { name: 'bad' },
          spec: {
            selector: { matchLabels: { app: 'x' } },
            template: { metadata: { labels: { app: 'y' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
          },
        },
      }),
    );
    expect(err.code).toBe(422);
    expect(err.status.reason).toBe('Invalid');
    expect(err.status.details?.causes?.[0]?.field).toBe('spec.template.metadata.labels');
  });

  it('seeds revision history and finds ReplicaSets by selector then ownerReferences', async () => {
    const dep = seedWeb();
    expect(dep.metadata.annotations?.[REVISION_ANNOTATION]).toBe('3');
    expect(revisions('web')).toEqual([
      { revision: 1, image: 'registry.local/web:1', replicas: 0, cause: 'deploy v1' },
      { revision: 2, image: 'registry.local/web:2', replicas: 0, cause: 'deploy v2' },
      { revision: 3, image: 'registry.local/web:3', replicas: 3, cause: 'deploy v3' },
    ]);
    // An unrelated ReplicaSet with the same labels but another owner must be filtered by ownerReferences.
    kube.seedDeployment({ namespace: NS, name: 'web-canary', image: 'registry.local/web:canary', labels: { app: 'web' } });
    const listed = await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=web' });
    expect(listed.items).toHaveLength(4);
    const owned = listed.items.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === dep.metadata.uid));
    expect(owned).toHaveLength(3);
  });

  it('rollout restart creates a new ReplicaSet with revision + 1 and moves every replica to it', async () => {
    const before = seedWeb();
    const oldPods = kube.getDeploymentPods(NS, 'web').map((p) => p.metadata.name);
    const patched = await rolloutRestart('web');
    expect(patched.metadata?.generation).toBe((before.metadata.generation ?? 0) + 1);

    const dep = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    expect(dep.metadata?.annotations?.[REVISION_ANNOTATION]).toBe('4');
    expect(dep.status?.observedGeneration).toBe(dep.metadata?.generation);
    expect(dep.status).toMatchObject({ replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 });
    expect(progressing(dep)).toBe('NewReplicaSetAvailable');

    const history = revisions('web');
    expect(history.map((h) => [h.revision, h.replicas])).toEqual([[1, 0], [2, 0], [3, 0], [4, 3]]);
    const live = kube.getLiveReplicaSet(NS, 'web');
    expect(live?.spec.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBe('2025-01-01T00:00:00Z');
    const newPods = kube.getDeploymentPods(NS, 'web').map((p) => p.metadata.name);
    expect(newPods).toHaveLength(3);
    expect(newPods.some((n) => oldPods.includes(n))).toBe(false);
  });

  it('rollout undo (template copied back by JSON patch) revives the old ReplicaSet under a new revision', async () => {
    seedWeb();
    const rsV2 = kube.getReplicaSets(NS, 'web').find((rs) => rs.metadata.annotations?.[REVISION_ANNOTATION] === '2');
    await rolloutUndo('web', 2);

    const sets = kube.getReplicaSets(NS, 'web');
    expect(sets).toHaveLength(3); // no new ReplicaSet
    const revived = sets.find((rs) => rs.metadata.uid === rsV2?.metadata.uid);
    expect(revived?.metadata.annotations?.[REVISION_ANNOTATION]).toBe('4');
    expect(revived?.metadata.annotations?.[REVISION_HISTORY_ANNOTATION]).toBe('2');
    expect(revived?.spec.replicas).toBe(3);
    expect(revisions('web').map((h) => [h.revision, h.image, h.replicas])).toEqual([
      [1, 'registry.local/web:1', 0],
      [3, 'registry.local/web:3', 0],
      [4, 'registry.local/web:2', 3],
    ]);
    const dep = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    expect(dep.metadata?.annotations?.[REVISION_ANNOTATION]).toBe('4');
    expect(dep.metadata?.annotations?.[CHANGE_CAUSE_ANNOTATION]).toBe('deploy v2');
    expect(dep.spec?.template.spec?.containers[0]?.image).toBe('registry.local/web:2');
    expect(progressing(dep)).toBe('NewReplicaSetAvailable');
  });

  it('answers a replace with a stale resourceVersion with 409 Conflict', async () => {
    seedWeb();
    const stale = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    const fresh = structuredClone(stale);
    fresh.spec!.replicas = 4;
    const replaced = await apps.replaceNamespacedDeployment({ name: 'web', namespace: NS, body: fresh });
    expect(replaced.spec?.replicas).toBe(4);
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(stale.metadata?.resourceVersion));

    stale.spec!.replicas = 1;
    const err = await apiError(apps.replaceNamespacedDeployment({ name: 'web', namespace: NS, body: stale }));
    expect(err.code).toBe(409);
    expect(err.status).toMatchObject({
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again',
      details: { name: 'web', group: 'apps', kind: 'deployments' },
    });
    // A patch carrying the stale resourceVersion conflicts too.
    const viaPatch = await apiError(
      apps.patchNamespacedDeployment(
        { name: 'web', namespace: NS, body: { metadata: { resourceVersion: stale.metadata?.resourceVersion }, spec: { replicas: 2 } } },
        mergePatch,
      ),
    );
    expect(viaPatch.code).toBe(409);
    expect(kube.getDeployment(NS, 'web')?.spec.replicas).toBe(4);
  });

  it('merge patch replaces lists while strategic merge patch merges containers by name', async () => {
    kube.seedDeployment({
      namespace: NS,
      name: 'multi',
      image: 'app:1',
      containers: [
        { name: 'app', image: 'app:1' },
        { name: 'sidecar', image: 'proxy:1' },
      ],
    });
    await apps.patchNamespacedDeployment(
      { name: 'multi', namespace: NS, body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'app:2' }] } } } } },
      strategicPatch,
    );
    let containers = kube.getDeployment(NS, 'multi')?.spec.template.spec.containers ?? [];
    expect(containers.map((c) => [c.name, c.image])).toEqual([['app', 'app:2'], ['sidecar', 'proxy:1']]);
    expect(containers[0]?.imagePullPolicy).toBe('IfNotPresent'); // defaulted fields survive the merge

    await apps.patchNamespacedDeployment(
      {
        name: 'multi',
        namespace: NS,
        body: { metadata: { annotations: { team: 'ops' } }, spec: { template: { spec: { containers: [{ name: 'app', image: 'app:3' }] } } } },
      },
      mergePatch,
    );
    containers = kube.getDeployment(NS, 'multi')?.spec.template.spec.containers ?? [];
    expect(containers.map((c) => [c.name, c.image])).toEqual([['app', 'app:3']]);
    expect(kube.getDeployment(NS, 'multi')?.metadata.annotations?.team).toBe('ops');

    await apps.patchNamespacedDeployment({ name: 'multi', namespace: NS, body: { metadata: { annotations: { team: null } } } }, mergePatch);
    expect(kube.getDeployment(NS, 'multi')?.metadata.annotations?.team).toBeUndefined();

    const sent = kube.requestsMatching('PATCH', '/apis/apps/v1/namespaces/autostack/deployments/multi').map((r) => r.contentType);
    expect(sent).toEqual([PatchStrategy.StrategicMergePatch, PatchStrategy.MergePatch, PatchStrategy.MergePatch]);
  });

  it('json patch on a deployment applies add/replace/test and a failed test is a 422', async () => {
    seedWeb();
    const dep = await apps.patchNamespacedDeployment(
      {
        name: 'web',
        namespace: NS,
        body: [
          { op: 'test', path: '/spec/replicas', value: 3 },
          { op: 'replace', path: '/spec/replicas', value: 5 },
          { op: 'add', path: '/metadata/labels/tier', value: 'frontend' },
        ],
      },
      jsonPatch,
    );
    expect(dep.spec?.replicas).toBe(5);
    expect(dep.metadata?.labels?.tier).toBe('frontend');
    expect(kube.getDeploymentPods(NS, 'web')).toHaveLength(5);

    const failed = await apiError(
      apps.patchNamespacedDeployment(
        { name: 'web', namespace: NS, body: [{ op: 'test', path: '/spec/replicas', value: 3 }, { op: 'replace', path: '/spec/replicas', value: 1 }] },
        jsonPatch,
      ),
    );
    expect(failed.code).toBe(422);
    expect(failed.status.details?.causes?.[0]?.message).toBe('testing value /spec/replicas failed: test failed');
    expect(kube.getDeployment(NS, 'web')?.spec.replicas).toBe(5);
  });

  it('scales through the scale subresource', async () => {
    seedWeb();
    const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: NS });
    expect(scale.spec?.replicas).toBe(3);
    expect(scale.status?.selector).toBe('app=web');
    await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: NS, body: { spec: { replicas: 1 } } }, mergePatch);
    expect(kube.getDeployment(NS, 'web')?.status?.readyReplicas).toBe(1);
    expect(kube.getDeploymentPods(NS, 'web')).toHaveLength(1);
  });

  it('completes a ready rollout only after the configured number of polls', async () => {
    seedWeb();
    kube.setRolloutBehaviour(NS, 'web', 'ready', { readyAfterPolls: 2 });
    await rolloutRestart('web');
    const first = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    const second = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    const third = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    for (const polled of [first, second]) {
      expect(progressing(polled)).toBe('ReplicaSetUpdated');
      expect(polled.status?.updatedReplicas ?? 0).toBeLessThan(3);
    }
    expect(progressing(third)).toBe('NewReplicaSetAvailable');
    expect(third.status).toMatchObject({ replicas: 3, updatedReplicas: 3, availableReplicas: 3 });
  });

  it('stuck rollout: new pods crash-loop, old pods keep serving, deadline exceeded after polls, undo recovers', async () => {
    seedWeb();
    kube.setRolloutBehaviour(NS, 'web', 'stuck', {
      deadlineAfterPolls: 2,
      crashLogs: ['booting', 'panic: missing DATABASE_URL'],
      exitCode: 3,
      restartCount: 4,
    });
    await rolloutRestart('web');

    const dep = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    expect(progressing(dep)).toBe('ReplicaSetUpdated');
    // maxSurge 25% of 3 → 1 new pod; maxUnavailable 0 → all 3 old pods stay.
    expect(dep.status).toMatchObject({ replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 1 });

    const live = kube.getLiveReplicaSet(NS, 'web');
    const hash = live?.metadata.labels?.['pod-template-hash'];
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: `pod-template-hash=${hash}` });
    expect(pods.items).toHaveLength(1);
    const crashing = pods.items[0] as V1Pod;
    const cs = crashing.status?.containerStatuses?.[0];
    expect(cs?.ready).toBe(false);
    expect(cs?.restartCount).toBe(4);
    expect(cs?.state?.waiting?.reason).toBe('CrashLoopBackOff');
    expect(cs?.lastState?.terminated?.exitCode).toBe(3);
    const podName = crashing.metadata?.name ?? '';
    const previous = await core.readNamespacedPodLog({ name: podName, namespace: NS, container: 'app', previous: true });
    expect(previous).toBe('booting\npanic: missing DATABASE_URL\n');

    await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    const late = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    const cond = late.status?.conditions?.find((c) => c.type === 'Progressing');
    expect(cond).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });

    await rolloutUndo('web', 3);
    const recovered = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    expect(progressing(recovered)).toBe('NewReplicaSetAvailable');
    expect(recovered.metadata?.annotations?.[REVISION_ANNOTATION]).toBe('5');
    expect(kube.getDeploymentPods(NS, 'web').every((p) => p.status?.containerStatuses?.[0]?.ready)).toBe(true);
    expect(revisions('web').find((r) => r.revision === 4)?.replicas).toBe(0);
  });

  it('a bad image can be declared stuck independently of the deployment', async () => {
    seedWeb();
    kube.setImageBehaviour('registry.local/web:broken', 'stuck', { failure: 'ImagePullBackOff' });
    await apps.patchNamespacedDeployment(
      { name: 'web', namespace: NS, body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'registry.local/web:broken' }] } } } } },
      strategicPatch,
    );
    const [pod] = kube.getDeploymentPods(NS, 'web', 'live');
    expect(pod?.status?.phase).toBe('Pending');
    expect(pod?.status?.containerStatuses?.[0]?.state.waiting?.reason).toBe('ImagePullBackOff');
    const err = await apiError(core.readNamespacedPodLog({ name: pod?.metadata.name ?? '', namespace: NS }));
    expect(err.code).toBe(400);
    expect(err.status.message).toContain('is waiting to start: trying and failing to pull image');
  });

  it('deleting a deployment garbage-collects its ReplicaSets and pods', async () => {
    seedWeb();
    const status = await apps.deleteNamespacedDeployment({ name: 'web', namespace: NS });
    expect(status.status).toBe('Success');
    expect(kube.listObjects('replicasets', NS)).toHaveLength(0);
    expect(kube.listObjects('pods', NS)).toHaveLength(0);
  });

  it('recreates a deleted pod of a ReplicaSet', async () => {
    seedWeb();
    const [victim] = kube.getDeploymentPods(NS, 'web');
    await core.deleteNamespacedPod({ name: victim?.metadata.name ?? '', namespace: NS });
    const pods = kube.getDeploymentPods(NS, 'web');
    expect(pods).toHaveLength(3);
    expect(pods.map((p) => p.metadata.name)).not.toContain(victim?.metadata.name);
  });
});

describe('statefulsets', () => {
  it('restart rolls pods to a new revision; stuck keeps the old revision current', async () => {
    kube.seedStatefulSet({ namespace: NS, name: 'db', image: 'postgres:16', replicas: 2 });
    const before = await apps.readNamespacedStatefulSet({ name: 'db', namespace: NS });
    expect(before.status).toMatchObject({ replicas: 2, readyReplicas: 2, updatedReplicas: 2 });
    expect(before.status?.currentRevision).toBe(before.status?.updateRevision);

    const restart = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': 'now' } } } } };
    await apps.patchNamespacedStatefulSet({ name: 'db', namespace: NS, body: restart }, strategicPatch);
    const after = await apps.readNamespacedStatefulSet({ name: 'db', namespace: NS });
    expect(after.status?.updateRevision).not.toBe(before.status?.updateRevision);
    expect(after.status?.currentRevision).toBe(after.status?.updateRevision);
    expect(after.status?.observedGeneration).toBe(after.metadata?.generation);
    const pods = kube.getPods(NS, { app: 'db' });
    expect(pods.map((p) => p.metadata.name)).toEqual(['db-0', 'db-1']);
    expect(pods.every((p) => p.metadata.labels?.['controller-revision-hash'] === after.status?.updateRevision)).toBe(true);

    kube.setRolloutBehaviour(NS, 'db', 'stuck', { kind: 'StatefulSet' });
    await apps.patchNamespacedStatefulSet(
      { name: 'db', namespace: NS, body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': 'later' } } } } } },
      strategicPatch,
    );
    const stuck = await apps.readNamespacedStatefulSet({ name: 'db', namespace: NS });
    expect(stuck.status?.currentRevision).toBe(after.status?.updateRevision);
    expect(stuck.status?.updateRevision).not.toBe(after.status?.updateRevision);
    expect(stuck.status).toMatchObject({ replicas: 2, readyReplicas: 1, updatedReplicas: 1 });
    const db1 = kube.getObject<Pod>('pods', NS, 'db-1');
    expect(db1?.status?.containerStatuses?.[0]?.state.waiting?.reason).toBe('CrashLoopBackOff');
  });
});

describe('secrets', () => {
  it('folds stringData into base64 data and never returns stringData', async () => {
    kube.seedNamespace(NS);
    const created = await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'oauth' }, data: { KEEP: Buffer.from('kept').toString('base64') }, stringData: { GITHUB_CLIENT_ID: 'id-1' } },
    });
    expect(created.stringData).toBeUndefined();
    expect(created.type).toBe('Opaque');
    expect(created.data).toEqual({ KEEP: Buffer.from('kept').toString('base64'), GITHUB_CLIENT_ID: Buffer.from('id-1').toString('base64') });
    const raw = kube.requestsMatching('POST', /\/secrets$/)[0];
    expect((raw?.body as { stringData?: unknown }).stringData).toEqual({ GITHUB_CLIENT_ID: 'id-1' });

    await core.patchNamespacedSecret({ name: 'oauth', namespace: NS, body: { stringData: { GITHUB_CLIENT_ID: 'id-2', SECRET: 's' } } }, mergePatch);
    expect(kube.getSecretData(NS, 'oauth')).toEqual({ KEEP: 'kept', GITHUB_CLIENT_ID: 'id-2', SECRET: 's' });
    const read = await core.readNamespacedSecret({ name: 'oauth', namespace: NS });
    expect(read.stringData).toBeUndefined();

    read.stringData = { GITHUB_CLIENT_ID: 'id-3' };
    await core.replaceNamespacedSecret({ name: 'oauth', namespace: NS, body: read });
    expect(kube.getSecretData(NS, 'oauth')?.GITHUB_CLIENT_ID).toBe('id-3');

    await core.patchNamespacedSecret(
      { name: 'oauth', namespace: NS, body: [{ op: 'remove', path: '/data/KEEP' }] },
      jsonPatch,
    );
    expect(Object.keys(kube.getSecretData(NS, 'oauth') ?? {}).sort()).toEqual(['GITHUB_CLIENT_ID', 'SECRET']);

    await core.deleteNamespacedSecret({ name: 'oauth', namespace: NS });
    expect((await apiError(core.readNamespacedSecret({ name: 'oauth', namespace: NS }))).code).toBe(404);
  });

  it('rejects invalid base64 in data with 400', async () => {
    kube.seedNamespace(NS);
    const err = await apiError(core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'bad' }, data: { K: 'not base64!' } } }));
    expect(err.code).toBe(400);
    expect(err.status.reason).toBe('BadRequest');
  });
});

describe('ingresses', () => {
  it('patches annotations with merge and JSON patch (pointer escaping), replaces with resourceVersion', async () => {
    kube.seedIngress({ namespace: NS, name: 'edge', host: 'app.example.com', serviceName: 'web', servicePort: 80, annotations: { a: '1' } });
    await net.patchNamespacedIngress({ name: 'edge', namespace: NS, body: { metadata: { annotations: { b: '2' } } } }, mergePatch);
    await net.patchNamespacedIngress(
      {
        name: 'edge',
        namespace: NS,
        body: [{ op: 'add', path: '/metadata/annotations/nginx.ingress.kubernetes.io~1whitelist-source-range', value: '10.0.0.0/8' }],
      },
      jsonPatch,
    );
    const ing = await net.readNamespacedIngress({ name: 'edge', namespace: NS });
    expect(ing.metadata?.annotations).toEqual({ a: '1', b: '2', 'nginx.ingress.kubernetes.io/whitelist-source-range': '10.0.0.0/8' });
    expect(ing.spec?.rules?.[0]?.host).toBe('app.example.com');

    ing.metadata!.annotations = { only: 'this' };
    const replaced = await net.replaceNamespacedIngress({ name: 'edge', namespace: NS, body: ing });
    expect(replaced.metadata?.annotations).toEqual({ only: 'this' });
    const conflict = await apiError(net.replaceNamespacedIngress({ name: 'edge', namespace: NS, body: ing }));
    expect(conflict.code).toBe(409);
  });
});

describe('pod logs', () => {
  function seedPod(): string {
    kube.seedDeployment({ namespace: NS, name: 'logger', image: 'logger:1', containerName: 'main' });
    const [pod] = kube.getDeploymentPods(NS, 'logger');
    return pod?.metadata.name ?? '';
  }

  it('supports tailLines, sinceSeconds, timestamps and previous', async () => {
    const pod = seedPod();
    const now = Date.now();
    kube.appendLogs(NS, pod, ['old 1', 'old 2'], { timestamps: new Date(now - 3_600_000) });
    kube.appendLogs(NS, pod, [
      { time: new Date(now - 30_000), text: 'recent 1' },
      { time: new Date(now - 10_000), text: 'recent 2' },
    ]);

    expect(await core.readNamespacedPodLog({ name: pod, namespace: NS })).toBe('old 1\nold 2\nrecent 1\nrecent 2\n');
    expect(await core.readNamespacedPodLog({ name: pod, namespace: NS, tailLines: 1 })).toBe('recent 2\n');
    expect(await core.readNamespacedPodLog({ name: pod, namespace: NS, sinceSeconds: 600 })).toBe('recent 1\nrecent 2\n');
    const stamped = await core.readNamespacedPodLog({ name: pod, namespace: NS, tailLines: 1, timestamps: true });
    expect(stamped).toBe(`${new Date(now - 10_000).toISOString().replace(/Z$/, '000000Z')} recent 2\n`);

    const noPrevious = await apiError(core.readNamespacedPodLog({ name: pod, namespace: NS, previous: true }));
    expect(noPrevious.code).toBe(400);
    expect(noPrevious.status.message).toBe(`previous terminated container "main" in pod "${pod}" not found`);

    kube.appendLogs(NS, pod, ['before the crash'], { previous: true });
    expect(await core.readNamespacedPodLog({ name: pod, namespace: NS, container: 'main', previous: true })).toBe('before the crash\n');
    const restarted = await core.readNamespacedPod({ name: pod, namespace: NS });
    expect(restarted.status?.containerStatuses?.[0]?.restartCount).toBe(1);
  });

  it('needs a container name for multi-container pods', async () => {
    kube.seedDeployment({
      namespace: NS,
      name: 'duo',
      image: 'a:1',
      containers: [
        { name: 'a', image: 'a:1' },
        { name: 'b', image: 'b:1' },
      ],
    });
    const [pod] = kube.getDeploymentPods(NS, 'duo');
    const name = pod?.metadata.name ?? '';
    kube.appendLogs(NS, name, ['from b'], { container: 'b' });
    const err = await apiError(core.readNamespacedPodLog({ name, namespace: NS }));
    expect(err.status.message).toBe(`a container name must be specified for pod ${name}, choose one of: [a b]`);
    expect(await core.readNamespacedPodLog({ name, namespace: NS, container: 'b' })).toBe('from b\n');
  });

  it('streams appended lines to a follower until the stream is ended', async () => {
    const pod = seedPod();
    kube.appendLogs(NS, pod, ['line 1']);
    const sink = new PassThrough();
    let received = '';
    let ended = false;
    sink.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    sink.on('end', () => (ended = true));

    await new Log(kc).log(NS, pod, 'main', sink, { follow: true });
    await until(() => received.includes('line 1'), 'the existing line');
    kube.appendLogs(NS, pod, ['line 2', 'line 3']);
    await until(() => received.includes('line 3'), 'appended lines');
    expect(ended).toBe(false);
    expect(kube.endLogStream(NS, pod)).toBe(1);
    await until(() => ended, 'end of stream');
    expect(received).toBe('line 1\nline 2\nline 3\n');
  });

  it('close() ends open follow streams cleanly', async () => {
    const pod = seedPod();
    const sink = new PassThrough();
    let ended = false;
    sink.resume();
    sink.on('end', () => (ended = true));
    await new Log(kc).log(NS, pod, 'main', sink, { follow: true });
    expect(ended).toBe(false);
    await kube.close();
    await until(() => ended, 'the stream to end');
  });
});

describe('jobs', () => {
  const jobBody = (name: string, backoffLimit?: number) => ({
    metadata: { name },
    spec: {
      ...(backoffLimit !== undefined ? { backoffLimit } : {}),
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image: 'backend:1', command: ['alembic', 'upgrade', 'head'] }] } },
    },
  });

  it('runs a job to success with logs', async () => {
    kube.seedNamespace(NS);
    kube.setJobOutcome('migrate-', { succeed: true, logs: ['INFO  [alembic] Running upgrade -> abc123', 'done'] });
    const created = await batch.createNamespacedJob({ namespace: NS, body: jobBody('migrate-1') });
    expect(created.spec?.selector?.matchLabels?.['batch.kubernetes.io/controller-uid']).toBe(created.metadata?.uid);

    const job = await batch.readNamespacedJob({ name: 'migrate-1', namespace: NS });
    expect(job.status?.succeeded).toBe(1);
    expect(job.status?.conditions?.find((c) => c.type === 'Complete')?.status).toBe('True');
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'job-name=migrate-1' });
    expect(pods.items).toHaveLength(1);
    const pod = pods.items[0] as V1Pod;
    expect(pod.status?.phase).toBe('Succeeded');
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    const logs = await core.readNamespacedPodLog({ name: pod.metadata?.name ?? '', namespace: NS });
    expect(logs).toBe('INFO  [alembic] Running upgrade -> abc123\ndone\n');
  });

  it('fails a job per the callback, one failed pod per attempt, and deletes with propagation', async () => {
    kube.seedNamespace(NS);
    kube.onJob((job) => (job.metadata.name === 'migrate-bad' ? { succeed: false, exitCode: 2, logs: ['FAILED: relation exists'] } : undefined));
    await batch.createNamespacedJob({ namespace: NS, body: jobBody('migrate-bad', 1) });
    const job = await batch.readNamespacedJob({ name: 'migrate-bad', namespace: NS });
    expect(job.status?.failed).toBe(2);
    expect(job.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded' });
    const pods = kube.getJobPods(NS, 'migrate-bad');
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      expect(pod.status?.phase).toBe('Failed');
      expect(pod.status?.containerStatuses?.[0]?.state.terminated?.exitCode).toBe(2);
      expect(await core.readNamespacedPodLog({ name: pod.metadata.name ?? '', namespace: NS })).toBe('FAILED: relation exists\n');
    }

    await batch.deleteNamespacedJob({ name: 'migrate-bad', namespace: NS, propagationPolicy: 'Background' });
    expect(kube.getJobPods(NS, 'migrate-bad')).toHaveLength(0);

    // Without a propagation policy the API server orphans a Job's pods.
    await batch.createNamespacedJob({ namespace: NS, body: jobBody('other') });
    await batch.deleteNamespacedJob({ name: 'other', namespace: NS });
    const orphans = kube.getJobPods(NS, 'other');
    expect(orphans).toHaveLength(1);
    expect(orphans[0]?.metadata.ownerReferences).toBeUndefined();
  });

  it('keeps a held job running until finished by the test', async () => {
    kube.seedNamespace(NS);
    kube.setJobOutcome('long', { succeed: true, hold: true });
    await batch.createNamespacedJob({ namespace: NS, body: jobBody('long-1') });
    const running = await batch.readNamespacedJob({ name: 'long-1', namespace: NS });
    expect(running.status?.active).toBe(1);
    expect(running.status?.succeeded).toBeUndefined();
    kube.finishJob(NS, 'long-1', { succeed: true, logs: ['ok'] });
    const finished = await batch.readNamespacedJob({ name: 'long-1', namespace: NS });
    expect(finished.status?.succeeded).toBe(1);
  });

  it('rejects a job with restartPolicy Always (422)', async () => {
    kube.seedNamespace(NS);
    const body = jobBody('x');
    body.spec.template.spec.restartPolicy = 'Always';
    const err = await apiError(batch.createNamespacedJob({ namespace: NS, body }));
    expect(err.code).toBe(422);
    expect(err.status.details?.causes?.[0]?.field).toBe('spec.template.spec.restartPolicy');
  });
});

describe('recording and failure injection', () => {
  it('records requests and fails the next matching requests with the injected Status', async () => {
    seedWeb();
    const handle = kube.failNext({ method: 'GET', path: /\/deployments\/web$/, code: 503, message: 'etcd leader changed', times: 2 });
    const first = await apiError(apps.readNamespacedDeployment({ name: 'web', namespace: NS }));
    expect(first.code).toBe(503);
    expect(first.status).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', message: 'etcd leader changed' });
    await apiError(apps.readNamespacedDeployment({ name: 'web', namespace: NS }));
    const ok = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    expect(ok.metadata?.name).toBe('web');
    expect(handle.hits).toBe(2);
    expect(handle.remaining).toBe(0);

    await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=web' });
    const list = kube.requestsMatching('GET', /\/replicasets$/)[0];
    expect(list?.query.labelSelector).toBe('app=web');
    expect(list?.headers.authorization).toBe(`Bearer ${kube.token}`);
  });

  it('a hanging injection keeps the request open until the server closes', async () => {
    kube.failNext({ path: '/api/v1/namespaces', code: 500, hang: true });
    const pending = core.listNamespace().then(
      () => 'answered',
      () => 'failed',
    );
    await until(() => kube.requests.length === 1, 'the request to arrive');
    await kube.close();
    expect(await pending).toBe('failed');
  });

  it('paginates lists with limit and continue', async () => {
    for (const n of ['a', 'b', 'c']) kube.seedSecret(NS, `s-${n}`, { k: n });
    const page1 = await core.listNamespacedSecret({ namespace: NS, limit: 2 });
    expect(page1.items.map((s) => s.metadata?.name)).toEqual(['s-a', 's-b']);
    const page2 = await core.listNamespacedSecret({ namespace: NS, limit: 2, _continue: page1.metadata?._continue ?? '' });
    expect(page2.items.map((s) => s.metadata?.name)).toEqual(['s-c']);
    expect(page2.metadata?._continue).toBeUndefined();
  });

  it('dry runs validate without storing', async () => {
    kube.seedNamespace(NS);
    await core.createNamespacedSecret({ namespace: NS, dryRun: 'All', body: { metadata: { name: 'dry' }, stringData: { a: 'b' } } });
    expect(kube.getSecret(NS, 'dry')).toBeUndefined();
  });
});
