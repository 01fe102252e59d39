/**
 * Helpers for test files that use the Kubernetes control plane started by
 * tests/harness/global-setup.ts (one per run, shared by all test files).
 *
 * Every test works in a namespace of its own (`kubeNamespace()`), as the bot
 * would: its KubeConfig authenticates as a ServiceAccount bound, in that
 * namespace only, to the Role in deploy/kubernetes/bot-role.yaml, so a call the
 * Role does not grant fails the test with 403. The `admin` KubeConfig is for the
 * test's own setup and checks. Namespaces are deleted after the test file.
 *
 * kwok plays the node: pods get Running at once (reported started then, or at
 * DeploymentOptions.startedAt), or crash-loop (RESTART_COUNT_ENV, or an image
 * tag ending in CRASHLOOP_IMAGE_SUFFIX); a Job's pod then succeeds, or
 * fails when its container runs `sh -c 'exit N'` (failingCommand). Pod logs come from
 * files the test writes (`setPodLogs()`), in the container runtime's format.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api, Watch } from '@kubernetes/client-node';
import type { KubeConfig, V1Deployment, V1Job, V1Pod, V1PolicyRule, V1ReplicaSet } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { afterAll, inject } from 'vitest';
import { REVISION_ANNOTATION } from '../../commands/shared/kube.ts';
import { kubeClientsFrom } from '../../src/clients.ts';
import type { KubeClients } from '../../src/core/types.ts';
import { uniqueName } from './env.ts';
import { waitUntil } from './services.ts';
import { RESTART_COUNT_ENV, STARTED_AT_ANNOTATION, kubeConfigFor } from './kube.ts';
import type { KubeCoordinates } from './kube.ts';

export { CRASHLOOP_IMAGE_SUFFIX, NODE_NAME, RESTART_COUNT_ENV, failingCommand } from './kube.ts';

const ROLE_FILE = new URL('../../deploy/kubernetes/bot-role.yaml', import.meta.url);
export const BOT_ACCOUNT = 'autostack-chatops';
/** How long the helpers wait for the control plane to act. */
const WAIT_MS = 30_000;

const namespaces: string[] = [];
const clusterLogs: string[] = [];

export function kubeCoordinates(): KubeCoordinates {
  const kube = inject('kube');
  if (!kube) throw new Error('the test control plane is not available: run the tests through vitest with vitest.config.ts (globalSetup)');
  return kube;
}

/** A KubeConfig of a cluster admin (system:masters), its context in `namespace`. */
export function adminKubeConfig(namespace = 'default'): KubeConfig {
  const kube = kubeCoordinates();
  return kubeConfigFor(kube, kube.adminToken, namespace);
}

/** The rules of the bot's Role as the repository ships them. */
export function botRoleRules(): V1PolicyRule[] {
  const role = parseYaml(fs.readFileSync(ROLE_FILE, 'utf8')) as { kind: string; metadata: { name: string }; rules: V1PolicyRule[] };
  if (role.kind !== 'Role' || role.metadata.name !== BOT_ACCOUNT) throw new Error(`${ROLE_FILE.pathname} is not the Role ${BOT_ACCOUNT}`);
  return role.rules;
}

export interface TestNamespace {
  name: string;
  /** Where this control plane's kwok reads the pod log files from. */
  logsDir: string;
  /** The bot's view: the ServiceAccount bound to the bot's Role, context in this namespace. */
  bot: KubeConfig;
  /** A cluster admin, context in this namespace, for setting up and checking. */
  admin: KubeConfig;
  /** API clients of `admin`. */
  kube: KubeClients;
}

export interface KubeNamespaceOptions {
  prefix?: string;
  /** This exact name instead of a unique one made from `prefix`. */
  name?: string;
  /** Another control plane than the test run's (the playground starts its own). */
  coordinates?: KubeCoordinates;
  /** The Role's rules (default: deploy/kubernetes/bot-role.yaml's). */
  rules?: V1PolicyRule[];
}

/**
 * A fresh namespace with the bot's ServiceAccount, Role and RoleBinding, and a
 * token for the ServiceAccount from the TokenRequest API. Deleted after the test file.
 */
export async function kubeNamespace(options: KubeNamespaceOptions = {}): Promise<TestNamespace> {
  const name = options.name ?? uniqueName(options.prefix ?? 'ns');
  const coordinates = options.coordinates ?? kubeCoordinates();
  const admin = kubeConfigFor(coordinates, coordinates.adminToken, name);
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespace({ body: { metadata: { name } } });
  // A control plane of its own is thrown away whole; the test run's keeps going.
  if (!options.coordinates) namespaces.push(name);
  await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: BOT_ACCOUNT } } });
  await rbac.createNamespacedRole({ namespace: name, body: { metadata: { name: BOT_ACCOUNT }, rules: options.rules ?? botRoleRules() } });
  await rbac.createNamespacedRoleBinding({
    namespace: name,
    body: {
      metadata: { name: BOT_ACCOUNT },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: BOT_ACCOUNT },
      subjects: [{ kind: 'ServiceAccount', name: BOT_ACCOUNT, namespace: name }],
    },
  });
  const token = await core.createNamespacedServiceAccountToken({ name: BOT_ACCOUNT, namespace: name, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  // Pods cannot be created before the namespace's default ServiceAccount exists.
  await waitUntil('the default ServiceAccount', WAIT_MS, async () => Boolean(await core.readNamespacedServiceAccount({ name: 'default', namespace: name })));
  const botToken = token.status?.token;
  if (!botToken) throw new Error(`no token issued for ServiceAccount ${BOT_ACCOUNT} in ${name}`);
  return { name, logsDir: coordinates.logsDir, bot: kubeConfigFor(coordinates, botToken, name), admin, kube: kubeClientsFrom(admin) };
}

export interface DeploymentOptions {
  name: string;
  image: string;
  replicas?: number;
  /** Container name (default: `name`). */
  container?: string;
  annotations?: Record<string, string>;
  env?: Array<{ name: string; value: string }>;
  /** When its pods report they started (default: when kwok runs them). */
  startedAt?: Date;
}

const startedAtAnnotation = (at: Date | undefined) => (at ? { [STARTED_AT_ANNOTATION]: at.toISOString() } : undefined);

/** Creates a Deployment (label app=<name>) and waits until all its pods are Running. */
export async function createDeployment(ns: TestNamespace, options: DeploymentOptions): Promise<V1Deployment> {
  const labels = { app: options.name };
  const created = await ns.kube.apps.createNamespacedDeployment({
    namespace: ns.name,
    body: {
      metadata: { name: options.name, labels, annotations: options.annotations },
      spec: {
        replicas: options.replicas ?? 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: startedAtAnnotation(options.startedAt) },
          spec: { containers: [{ name: options.container ?? options.name, image: options.image, env: options.env }] },
        },
      },
    },
  });
  await waitForRollout(ns, options.name);
  return created;
}

export interface RevisionSpec {
  image: string;
  changeCause?: string;
  /** The revision's pods crash-loop (RESTART_COUNT_ENV in its template). */
  crashing?: boolean;
}

export interface HistoryOptions {
  name: string;
  /** Oldest first; the last one is live when this returns (each one a ReplicaSet, revision 1, 2, ...). */
  revisions: RevisionSpec[];
  replicas?: number;
  progressDeadlineSeconds?: number;
  /** When its pods report they started (default: when kwok runs them). */
  startedAt?: Date;
}

const revisionEnv = (r: RevisionSpec) => (r.crashing ? [{ name: RESTART_COUNT_ENV, value: '2' }] : undefined);

/**
 * A Deployment with a rollout history made the way it is made for real: created at the first
 * revision, then changed to each next one. Waits until the controller observed each change and,
 * unless the last revision crash-loops, until its rollout finished.
 */
export async function createDeploymentWithHistory(ns: TestNamespace, options: HistoryOptions): Promise<V1Deployment> {
  const [first, ...rest] = options.revisions;
  if (!first) throw new Error('createDeploymentWithHistory needs at least one revision');
  const labels = { app: options.name };
  const annotations = (r: RevisionSpec) => (r.changeCause ? { [CHANGE_CAUSE]: r.changeCause } : undefined);
  await ns.kube.apps.createNamespacedDeployment({
    namespace: ns.name,
    body: {
      metadata: { name: options.name, labels, annotations: annotations(first) },
      spec: {
        replicas: options.replicas ?? 1,
        progressDeadlineSeconds: options.progressDeadlineSeconds,
        selector: { matchLabels: labels },
        template: { metadata: { labels, annotations: startedAtAnnotation(options.startedAt) }, spec: { containers: [{ name: options.name, image: first.image, env: revisionEnv(first) }] } },
      },
    },
  });
  await waitObserved(ns, options.name);
  for (const revision of rest) {
    await updateDeployment(ns, options.name, (d) => {
      d.metadata!.annotations = { ...d.metadata?.annotations, ...annotations(revision) };
      const container = d.spec!.template.spec!.containers[0]!;
      container.image = revision.image;
      container.env = revisionEnv(revision);
    });
    await waitObserved(ns, options.name);
  }
  const last = options.revisions[options.revisions.length - 1]!;
  return last.crashing ? ns.kube.apps.readNamespacedDeployment({ name: options.name, namespace: ns.name }) : waitForRollout(ns, options.name);
}

const CHANGE_CAUSE = 'kubernetes.io/change-cause';

/** Waits until the deployment controller observed the Deployment's current generation (its ReplicaSet exists). */
export async function waitObserved(ns: TestNamespace, name: string): Promise<void> {
  await waitUntil(`Deployment ${name}'s change to be observed`, WAIT_MS, async () => {
    const current = await ns.kube.apps.readNamespacedDeployment({ name, namespace: ns.name });
    return (current.status?.observedGeneration ?? 0) >= (current.metadata?.generation ?? 1);
  });
}

/** The container images of a Deployment's pod template. */
export async function deploymentImage(ns: TestNamespace, name: string): Promise<string | undefined> {
  const current = await ns.kube.apps.readNamespacedDeployment({ name, namespace: ns.name });
  return current.spec?.template.spec?.containers[0]?.image;
}

/** Waits until the Deployment's rollout finished: every wanted pod updated and available, no old pod left. */
export async function waitForRollout(ns: TestNamespace, name: string): Promise<V1Deployment> {
  let current: V1Deployment | undefined;
  await waitUntil(`Deployment ${name} to roll out`, WAIT_MS, async () => {
    current = await ns.kube.apps.readNamespacedDeployment({ name, namespace: ns.name });
    const wanted = current.spec?.replicas ?? 1;
    const status = current.status ?? {};
    const pods = await deploymentPods(ns, name);
    return (
      (status.observedGeneration ?? 0) >= (current.metadata?.generation ?? 1) &&
      (status.updatedReplicas ?? 0) === wanted &&
      (status.availableReplicas ?? 0) === wanted &&
      (status.replicas ?? 0) === wanted &&
      pods.length === wanted &&
      pods.every((p) => p.status?.phase === 'Running')
    );
  });
  return current!;
}

/** The ReplicaSets of a Deployment, by revision (oldest first). */
export async function deploymentReplicaSets(ns: TestNamespace, name: string): Promise<V1ReplicaSet[]> {
  const list = await ns.kube.apps.listNamespacedReplicaSet({ namespace: ns.name });
  const revision = (rs: V1ReplicaSet) => Number(rs.metadata?.annotations?.[REVISION_ANNOTATION] ?? 0);
  return list.items.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === name)).sort((a, b) => revision(a) - revision(b));
}

/** The ReplicaSet of the Deployment's current revision (the one its controller calls new). */
export async function liveReplicaSet(ns: TestNamespace, name: string): Promise<V1ReplicaSet | undefined> {
  const deployment = await ns.kube.apps.readNamespacedDeployment({ name, namespace: ns.name });
  const revision = deployment.metadata?.annotations?.[REVISION_ANNOTATION];
  return (await deploymentReplicaSets(ns, name)).find((rs) => rs.metadata?.annotations?.[REVISION_ANNOTATION] === revision);
}

/** The Deployment's pods that are not being deleted, by name. */
export async function deploymentPods(ns: TestNamespace, name: string): Promise<V1Pod[]> {
  const list = await ns.kube.core.listNamespacedPod({ namespace: ns.name, labelSelector: `app=${name}` });
  return list.items.filter((p) => !p.metadata?.deletionTimestamp).sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
}

export type LogLine = string | { text: string; time: Date; stream?: 'stdout' | 'stderr' };

/** Lines in the container runtime's log format, as kwok reads them. */
function criLog(lines: LogLine[]): string {
  return lines
    .map((line) => {
      const entry = typeof line === 'string' ? { text: line, time: new Date(), stream: 'stdout' } : { stream: 'stdout', ...line };
      return `${entry.time.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z')} ${entry.stream} F ${entry.text}\n`;
    })
    .join('');
}

export interface ContainerLogs {
  lines: LogLine[];
  /** The previous (crashed) container's lines, served for `previous=true`. */
  previous?: LogLine[];
}

/**
 * Makes kwok serve these logs for `pod`'s containers (through the API server's
 * pods/log, as a kubelet would), and waits until it does. Returns a function
 * that appends lines to a container's current log.
 */
export async function setPodLogs(ns: TestNamespace, pod: string, containers: Record<string, ContainerLogs>): Promise<(container: string, lines: LogLine[]) => void> {
  const dir = path.join(ns.logsDir, ns.name, pod);
  fs.mkdirSync(dir, { recursive: true });
  const logs = Object.entries(containers).map(([container, content]) => {
    const logsFile = path.join(dir, `${container}.log`);
    fs.writeFileSync(logsFile, criLog(content.lines));
    // Without a previous file, asking for the previous container fails, as it does on a kubelet.
    if (!content.previous) return { containers: [container], logsFile, follow: true };
    const previousLogsFile = path.join(dir, `${container}.previous.log`);
    fs.writeFileSync(previousLogsFile, criLog(content.previous));
    return { containers: [container], logsFile, previousLogsFile, follow: true };
  });
  await ns.admin.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: 'kwok.x-k8s.io',
    version: 'v1alpha1',
    namespace: ns.name,
    plural: 'logs',
    body: { apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'Logs', metadata: { name: pod, namespace: ns.name }, spec: { logs } },
  });
  // kwok learns of the Logs object through a watch: wait until it serves the first container.
  const [first, content] = Object.entries(containers)[0]!;
  const previous = content.lines.length === 0 && Boolean(content.previous?.length);
  await waitUntil(`kwok to serve ${pod}'s logs`, WAIT_MS, async () => {
    await ns.kube.core.readNamespacedPodLog({ name: pod, namespace: ns.name, container: first, previous: previous || undefined });
    return true;
  });
  return (container, lines) => fs.appendFileSync(path.join(dir, `${container}.log`), criLog(lines));
}

/**
 * Records every Job created in `ns` from now on, as first seen (a watch, so a Job the bot deletes
 * a moment later is still seen). Stop it with the returned `stop`.
 */
export async function watchJobs(ns: TestNamespace): Promise<{ jobs: V1Job[]; stop(): void }> {
  const jobs: V1Job[] = [];
  const request = await new Watch(ns.admin).watch(
    `/apis/batch/v1/namespaces/${ns.name}/jobs`,
    {},
    (type: string, job: V1Job) => {
      if (type === 'ADDED') jobs.push(job);
    },
    () => undefined,
  );
  return { jobs, stop: () => request.abort() };
}

/** The pods of `ns` (for assertions), by name. */
export async function podsIn(ns: TestNamespace, labelSelector?: string): Promise<V1Pod[]> {
  const list = await ns.admin.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns.name, labelSelector });
  return list.items.sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
}

/**
 * Makes kwok serve these lines as the log of every container of every pod in
 * the namespace, also of pods created later (a Job's, say); called again, replaces them. Waits until kwok
 * does so for `pod`, a running pod of the namespace.
 */
export async function setNamespaceLogs(ns: TestNamespace, pod: string, lines: LogLine[]): Promise<void> {
  const logsFile = path.join(ns.logsDir, ns.name, 'all.log');
  fs.mkdirSync(path.dirname(logsFile), { recursive: true });
  fs.writeFileSync(logsFile, criLog(lines));
  const name = ns.name;
  // Set before: kwok reads the file on each request, so the new lines are served from now on.
  if (clusterLogs.includes(name)) return;
  await ns.admin.makeApiClient(CustomObjectsApi).createClusterCustomObject({
    group: 'kwok.x-k8s.io',
    version: 'v1alpha1',
    plural: 'clusterlogs',
    body: { apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'ClusterLogs', metadata: { name }, spec: { selector: { matchNamespaces: [ns.name] }, logs: [{ logsFile, follow: true }] } },
  });
  clusterLogs.push(name);
  await waitUntil(`kwok to serve the logs of ${ns.name}`, WAIT_MS, async () => {
    await ns.kube.core.readNamespacedPodLog({ name: pod, namespace: ns.name });
    return true;
  });
}

/** A Secret's values as text; undefined when there is no such Secret. */
export async function readSecret(ns: TestNamespace, name: string): Promise<Record<string, string> | undefined> {
  const secret = await ns.kube.core.readNamespacedSecret({ name, namespace: ns.name }).catch((error: { code?: number }) => {
    if (error.code === 404) return undefined;
    throw error;
  });
  if (!secret) return undefined;
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
}

/**
 * A Secret as the pods of `deployment` see it in their environment: read again only when the
 * Deployment has finished rolling out a ReplicaSet it was not read for (new pods started), so a
 * Secret change without a restart is not seen, as with real pods. For the fake backend's env.
 */
export function podsSecretEnv(ns: TestNamespace, options: { secret: string; deployment: string }): () => Promise<Record<string, string> | undefined> {
  let snapshot: Record<string, string> | undefined;
  let podsOf: string | undefined;
  return async () => {
    const dep = await ns.kube.apps.readNamespacedDeployment({ name: options.deployment, namespace: ns.name });
    const rolledOut = dep.status?.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'NewReplicaSetAvailable') && (dep.status?.updatedReplicas ?? 0) === (dep.status?.replicas ?? 0);
    const live = rolledOut ? (await liveReplicaSet(ns, options.deployment))?.metadata?.uid : undefined;
    if (snapshot === undefined || (live !== undefined && live !== podsOf)) {
      snapshot = await readSecret(ns, options.secret);
      podsOf = live ?? podsOf;
    }
    return snapshot;
  };
}

/** Changes a Deployment as its owner would (read, change, replace); does not wait for the rollout. */
export async function updateDeployment(ns: TestNamespace, name: string, change: (deployment: V1Deployment) => void): Promise<V1Deployment> {
  const apps = ns.admin.makeApiClient(AppsV1Api);
  // The controllers write the status between our read and our write: read again on a 409.
  for (let attempt = 1; ; attempt++) {
    const current = await apps.readNamespacedDeployment({ name, namespace: ns.name });
    change(current);
    try {
      return await apps.replaceNamespacedDeployment({ name, namespace: ns.name, body: current });
    } catch (error) {
      if ((error as { code?: number }).code !== 409 || attempt >= 5) throw error;
    }
  }
}

// Only inside a vitest worker: hooks cannot be registered anywhere else.
if (process.env.VITEST) {
  afterAll(async () => {
    const names = namespaces.splice(0);
    const logs = clusterLogs.splice(0);
    const admin = adminKubeConfig();
    const core = admin.makeApiClient(CoreV1Api);
    const custom = admin.makeApiClient(CustomObjectsApi);
    // The namespace controller removes what is in them; nothing waits for that.
    await Promise.allSettled([
      ...names.map((name) => core.deleteNamespace({ name })),
      ...logs.map((name) => custom.deleteClusterCustomObject({ group: 'kwok.x-k8s.io', version: 'v1alpha1', plural: 'clusterlogs', name })),
    ]);
  });
}
