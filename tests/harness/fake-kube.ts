/**
 * A fake Kubernetes API server for the local playground.
 *
 * It speaks the real HTTP API (JSON bodies, Status errors, resourceVersion
 * conflicts, the three patch content types, pod logs incl. follow), so the
 * real @kubernetes/client-node runs against it unchanged:
 *
 *   const kube = await FakeKube.start();
 *   kube.seedDeployment({ namespace: 'autostack', name: 'web', image: 'web:1.0' });
 *   const apps = kube.kubeConfig().makeApiClient(AppsV1Api);
 *   ...
 *   await kube.close();
 *
 * Served: namespaces, pods (+log), secrets, apps/v1 deployments, replicasets,
 * statefulsets (+status, +scale), batch/v1 jobs, networking.k8s.io/v1
 * ingresses. No watch. Deployments, ReplicaSets, StatefulSets and Jobs are
 * driven by built-in controllers (see fake-kube/workloads.ts and jobs.ts).
 *
 * The tests run on the real control plane (tests/harness/kube.ts, kube-env.ts); this fake is
 * kept for the playground (tests/harness/playground/kube.ts), which does not yet start one.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { Cluster } from './fake-kube/cluster.ts';
import { JobRunner } from './fake-kube/jobs.ts';
import type { JobHandler, JobOutcome } from './fake-kube/jobs.ts';
import type { LogLine } from './fake-kube/logs.ts';
import { LogStore } from './fake-kube/logs.ts';
import { PODS, ownedBy } from './fake-kube/pods.ts';
import type { ResourceName } from './fake-kube/resources.ts';
import { resourceInfo } from './fake-kube/resources.ts';
import { matchesRequirements, parseLabelSelector } from './fake-kube/selectors.ts';
import { KubeRequestHandler } from './fake-kube/server.ts';
import type { FailureInjection, InjectionHandle, RecordedRequest } from './fake-kube/server.ts';
import type {
  ContainerSpec,
  Deployment,
  DeploymentSpec,
  Ingress,
  Job,
  KubeObject,
  Namespace,
  Pod,
  ReplicaSet,
  Secret,
  StatefulSet,
} from './fake-kube/types.ts';
import { clone, rfc3339 } from './fake-kube/util.ts';
import { closeServer, listenOnLoopback, requestMatches } from './fake-http.ts';
import type { RolloutMode, RolloutOptions } from './fake-kube/workloads.ts';
import { CHANGE_CAUSE_ANNOTATION, DEPLOYMENTS, STATEFULSETS, Workloads, revisionOf } from './fake-kube/workloads.ts';

export type { FailureInjection, InjectionHandle, RecordedRequest } from './fake-kube/server.ts';
export type { JobHandler, JobOutcome } from './fake-kube/jobs.ts';
export type { LogLine } from './fake-kube/logs.ts';
export type { RolloutMode, RolloutOptions } from './fake-kube/workloads.ts';
export type { ResourceName } from './fake-kube/resources.ts';
export type { StatusBody, StatusDetails, StatusCause } from './fake-kube/status.ts';
export type * from './fake-kube/types.ts';
export {
  CHANGE_CAUSE_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL,
  RESTARTED_AT_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  revisionOf,
  templatesEqual,
} from './fake-kube/workloads.ts';

export const DEFAULT_TOKEN = 'fake-kube-token';

export interface FakeKubeOptions {
  /** Bearer token the server requires (default DEFAULT_TOKEN). */
  token?: string;
  /** Clock for timestamps and sinceSeconds (default: real time). */
  now?: () => Date;
}

export interface FakeKubeServer {
  /** http://127.0.0.1:PORT */
  url: string;
  token: string;
  close(): Promise<void>;
}

export interface KubeconfigOptions {
  /** Namespace of the generated context (default "default"). */
  namespace?: string;
  /** Name used for the cluster, user and context entries (default "fake"). */
  name?: string;
}

/**
 * A kubeconfig YAML for a started fake (or anything with a url and token).
 * The cluster entry sets insecure-skip-tls-verify: @kubernetes/client-node 2
 * refuses plain http:// servers without it.
 */
export function kubeconfigFor(server: { url: string; token?: string }, options: KubeconfigOptions = {}): string {
  const name = options.name ?? 'fake';
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: server.url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: `${name}-user`, user: { token: server.token ?? DEFAULT_TOKEN } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-user`, namespace: options.namespace ?? 'default' } }],
    'current-context': name,
  });
}

/** A loaded KubeConfig pointing at the server: `makeKubeConfig(kube).makeApiClient(AppsV1Api)`. */
export function makeKubeConfig(server: { url: string; token?: string }, options: KubeconfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigFor(server, options));
  return kc;
}

export interface SeedDeploymentOptions {
  namespace?: string;
  name: string;
  /** Image of the current revision. */
  image: string;
  replicas?: number;
  /** Name of the single container (default: the deployment name). */
  containerName?: string;
  /** Pod labels, also the selector (default { app: name }). */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** kubernetes.io/change-cause of the current revision. */
  changeCause?: string;
  /** Earlier revisions, oldest first; the current one ({image, changeCause}) comes after them. */
  revisions?: Array<{ image: string; changeCause?: string }>;
  env?: Record<string, string>;
  containerPort?: number;
  /** Replaces the generated container list (image/containerName/env/containerPort then unused). */
  containers?: ContainerSpec[];
  strategy?: DeploymentSpec['strategy'];
}

export interface SeedStatefulSetOptions {
  namespace?: string;
  name: string;
  image: string;
  replicas?: number;
  containerName?: string;
  labels?: Record<string, string>;
  serviceName?: string;
}

export interface SeedIngressOptions {
  namespace?: string;
  name: string;
  host: string;
  serviceName: string;
  servicePort: number;
  path?: string;
  pathType?: 'Prefix' | 'Exact' | 'ImplementationSpecific';
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  ingressClassName?: string;
  /** Adds spec.tls for the host with this secret. */
  tlsSecretName?: string;
}

export interface SeedSecretOptions {
  type?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  immutable?: boolean;
}

export interface AppendLogsOptions {
  /** Container name (default: the pod's first container). */
  container?: string;
  /**
   * Write to the previous (last terminated) container instance. If the
   * container has not restarted yet, it is marked as restarted once
   * (restartCount + 1, lastState.terminated with exit code 1), as a
   * container that produced previous logs must have.
   */
  previous?: boolean;
  /** Timestamp of every line, or one per line (default: now). Lines given as LogLine keep their own. */
  timestamps?: Date | Date[];
}

export type WorkloadKind = 'Deployment' | 'StatefulSet';

export class FakeKube {
  /** The object store; exposes the API semantics without HTTP (create/replace/patch/delete/get/list). */
  readonly store: Cluster;
  readonly token: string;
  private readonly logs = new LogStore();
  private readonly workloads: Workloads;
  private readonly jobs: JobRunner;
  private readonly handler: KubeRequestHandler;
  private readonly now: () => Date;
  private server: Server | undefined;
  private baseUrl: string | undefined;

  constructor(options: FakeKubeOptions = {}) {
    this.token = options.token ?? DEFAULT_TOKEN;
    this.now = options.now ?? (() => new Date());
    this.store = new Cluster(this.now);
    this.workloads = new Workloads(this.store, this.logs);
    this.jobs = new JobRunner(this.store, this.logs);
    this.store.hooks = {
      afterWrite: (info, obj, old) => {
        if (info.plural === 'jobs') {
          if (!old) this.jobs.start(obj as Job);
        } else {
          this.workloads.afterWrite(info, obj);
        }
      },
      afterDelete: (info, obj) => {
        if (info.plural === 'jobs') this.jobs.forget(obj as Job);
        this.workloads.afterDelete(info, obj);
      },
    };
    this.handler = new KubeRequestHandler({
      cluster: this.store,
      workloads: this.workloads,
      jobs: this.jobs,
      logs: this.logs,
      token: this.token,
      now: this.now,
    });
  }

  /** Creates and starts a fake in one step. */
  static async start(options: FakeKubeOptions = {}): Promise<FakeKube> {
    const kube = new FakeKube(options);
    await kube.start();
    return kube;
  }

  // -------------------------------------------------------------------------
  // Server lifecycle

  /** Listens on 127.0.0.1 on a free port. */
  async start(): Promise<FakeKubeServer> {
    if (this.server) throw new Error('fake API server already started');
    const server = createServer(this.handler.handle);
    this.server = server;
    this.baseUrl = await listenOnLoopback(server);
    return { url: this.baseUrl, token: this.token, close: () => this.close() };
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('fake API server not started');
    return this.baseUrl;
  }

  /** Ends follow streams and hung requests, closes all connections and the listener. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.handler.closeOpenResponses();
    await closeServer(server);
  }

  kubeconfig(options: KubeconfigOptions = {}): string {
    return kubeconfigFor(this, options);
  }

  kubeConfig(options: KubeconfigOptions = {}): KubeConfig {
    return makeKubeConfig(this, options);
  }

  // -------------------------------------------------------------------------
  // Requests and failures

  /** Every request received, in order (including rejected and injected ones). */
  get requests(): readonly RecordedRequest[] {
    return this.handler.requests;
  }

  /** Recorded requests filtered by method and/or path. */
  requestsMatching(method?: string, path?: RegExp | string): RecordedRequest[] {
    return this.handler.requests.filter((r) => requestMatches({ method, path }, r.method, r.path));
  }

  clearRequests(): void {
    this.handler.requests.length = 0;
  }

  /** Makes the next `times` requests matching method+path fail with a Status (or hang). */
  failNext(injection: FailureInjection): InjectionHandle {
    return this.handler.inject(injection);
  }

  clearFailures(): void {
    this.handler.clearInjections();
  }

  // -------------------------------------------------------------------------
  // Seeding

  seedNamespace(name: string, labels?: Record<string, string>): Namespace {
    const ns = resourceInfo('namespaces');
    const existing = this.store.find<Namespace>(ns, undefined, name);
    if (existing) return existing;
    return this.store.create<Namespace>(ns, undefined, { metadata: { name, ...(labels ? { labels } : {}) } });
  }

  /**
   * Creates a settled Deployment (all replicas ready), going through every
   * revision in `revisions` first so the ReplicaSet history exists. Seeding
   * ignores rollout behaviours: the seeded state is always healthy.
   */
  seedDeployment(options: SeedDeploymentOptions): Deployment {
    const namespace = options.namespace ?? 'default';
    this.seedNamespace(namespace);
    const labels = options.labels ?? { app: options.name };
    const history = [...(options.revisions ?? []), { image: options.image, changeCause: options.changeCause }];
    const containersFor = (image: string): ContainerSpec[] =>
      options.containers
        ? clone(options.containers)
        : [
            {
              name: options.containerName ?? options.name,
              image,
              ...(options.env ? { env: Object.entries(options.env).map(([name, value]) => ({ name, value })) } : {}),
              ...(options.containerPort ? { ports: [{ containerPort: options.containerPort }] } : {}),
            },
          ];
    const withCause = (annotations: Record<string, string>, cause: string | undefined) => {
      const out = { ...annotations };
      if (cause === undefined) delete out[CHANGE_CAUSE_ANNOTATION];
      else out[CHANGE_CAUSE_ANNOTATION] = cause;
      return out;
    };

    return this.workloads.withForcedReadiness(() => {
      const [first, ...rest] = history;
      let dep = this.store.create<Deployment>(DEPLOYMENTS, namespace, {
        metadata: { name: options.name, labels: { ...labels }, annotations: withCause(options.annotations ?? {}, first?.changeCause) },
        spec: {
          replicas: options.replicas ?? 1,
          selector: { matchLabels: { ...labels } },
          template: { metadata: { labels: { ...labels } }, spec: { containers: containersFor(first?.image ?? options.image) } },
          ...(options.strategy ? { strategy: clone(options.strategy) } : {}),
        },
      });
      for (const revision of rest) {
        const current = this.store.get<Deployment>(DEPLOYMENTS, namespace, options.name);
        const next = clone(current);
        next.metadata.annotations = withCause(next.metadata.annotations ?? {}, revision.changeCause);
        next.spec.template.spec.containers = containersFor(revision.image);
        if (options.containers) {
          const main = next.spec.template.spec.containers[0];
          if (main) main.image = revision.image;
        }
        dep = this.store.replace<Deployment>(DEPLOYMENTS, namespace, options.name, next);
      }
      return this.store.get<Deployment>(DEPLOYMENTS, namespace, dep.metadata.name ?? options.name);
    });
  }

  seedStatefulSet(options: SeedStatefulSetOptions): StatefulSet {
    const namespace = options.namespace ?? 'default';
    this.seedNamespace(namespace);
    const labels = options.labels ?? { app: options.name };
    return this.workloads.withForcedReadiness(() => {
      this.store.create<StatefulSet>(STATEFULSETS, namespace, {
        metadata: { name: options.name, labels: { ...labels } },
        spec: {
          replicas: options.replicas ?? 1,
          serviceName: options.serviceName ?? options.name,
          selector: { matchLabels: { ...labels } },
          template: {
            metadata: { labels: { ...labels } },
            spec: { containers: [{ name: options.containerName ?? options.name, image: options.image }] },
          },
        },
      });
      return this.store.get<StatefulSet>(STATEFULSETS, namespace, options.name);
    });
  }

  /** Creates a Secret; `data` values are plain text (the fake base64-encodes them). */
  seedSecret(namespace: string, name: string, data: Record<string, string>, options: SeedSecretOptions = {}): Secret {
    this.seedNamespace(namespace);
    const encoded: Record<string, string> = {};
    for (const [k, v] of Object.entries(data)) encoded[k] = Buffer.from(v, 'utf8').toString('base64');
    return this.store.create<Secret>(resourceInfo('secrets'), namespace, {
      metadata: {
        name,
        ...(options.labels ? { labels: options.labels } : {}),
        ...(options.annotations ? { annotations: options.annotations } : {}),
      },
      type: options.type ?? 'Opaque',
      data: encoded,
      ...(options.immutable !== undefined ? { immutable: options.immutable } : {}),
    });
  }

  seedIngress(options: SeedIngressOptions): Ingress {
    const namespace = options.namespace ?? 'default';
    this.seedNamespace(namespace);
    const spec: Record<string, unknown> = {
      rules: [
        {
          host: options.host,
          http: {
            paths: [
              {
                path: options.path ?? '/',
                pathType: options.pathType ?? 'Prefix',
                backend: { service: { name: options.serviceName, port: { number: options.servicePort } } },
              },
            ],
          },
        },
      ],
    };
    if (options.ingressClassName) spec.ingressClassName = options.ingressClassName;
    if (options.tlsSecretName) spec.tls = [{ hosts: [options.host], secretName: options.tlsSecretName }];
    return this.store.create<Ingress>(resourceInfo('ingresses'), namespace, {
      metadata: {
        name: options.name,
        ...(options.labels ? { labels: options.labels } : {}),
        ...(options.annotations ? { annotations: options.annotations } : {}),
      },
      spec,
    });
  }

  // -------------------------------------------------------------------------
  // Rollout control

  /**
   * How the next rollout of a Deployment/StatefulSet behaves ('ready' or
   * 'stuck'), and the current one if it has not finished. Finished rollouts
   * keep their health, so undoing to an earlier (healthy) revision completes.
   */
  setRolloutBehaviour(namespace: string, name: string, mode: RolloutMode, options: RolloutOptions & { kind?: WorkloadKind } = {}): void {
    const { kind, ...rollout } = options;
    if (kind !== 'StatefulSet') this.workloads.setBehaviour(DEPLOYMENTS, namespace, name, mode, rollout);
    if (kind !== 'Deployment') this.workloads.setBehaviour(STATEFULSETS, namespace, name, mode, rollout);
  }

  /** Behaviour of any future rollout target whose pod template uses this image (takes precedence). */
  setImageBehaviour(image: string, mode: RolloutMode, options: RolloutOptions = {}): void {
    this.workloads.setImageBehaviour(image, mode, options);
  }

  /** Turns Progressing to False/ProgressDeadlineExceeded for the workload's unfinished rollout. */
  expireProgressDeadline(namespace: string, name: string, kind: WorkloadKind = 'Deployment'): void {
    this.workloads.expireProgressDeadline(kind === 'Deployment' ? DEPLOYMENTS : STATEFULSETS, namespace, name);
  }

  /** Records an Event about an object (what the kubelet or a controller reports: BackOff, OOMKilling, FailedScheduling). */
  seedEvent(namespace: string, event: { involved: { kind: string; name: string }; reason: string; message: string; type?: 'Normal' | 'Warning'; at?: Date; count?: number }): KubeObject {
    const at = rfc3339(event.at ?? this.now());
    return this.store.create<KubeObject>(resourceInfo('events'), namespace, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${event.involved.name}.${Math.random().toString(16).slice(2, 12)}`, namespace },
      involvedObject: { kind: event.involved.kind, name: event.involved.name, namespace },
      reason: event.reason,
      message: event.message,
      type: event.type ?? 'Warning',
      count: event.count ?? 1,
      firstTimestamp: at,
      lastTimestamp: at,
    } as unknown as KubeObject);
  }

  /** Moves a pod's creation and its containers' current start back to `at` (an older, long-running pod). */
  setPodStarted(namespace: string, pod: string, at: Date): void {
    const next = clone(this.store.find<Pod>(PODS, namespace, pod));
    if (!next) throw new Error(`pod ${namespace}/${pod} does not exist`);
    next.metadata.creationTimestamp = rfc3339(at);
    if (next.status) {
      next.status.startTime = rfc3339(at);
      for (const status of next.status.containerStatuses ?? []) if (status.state.running) status.state.running.startedAt = rfc3339(at);
    }
    this.store.put(PODS, next);
  }

  // -------------------------------------------------------------------------
  // Logs

  /** Appends log lines to a pod's container; open follow streams receive them. */
  appendLogs(namespace: string, pod: string, lines: ReadonlyArray<string | LogLine>, options: AppendLogsOptions = {}): void {
    const podObj = this.store.find<Pod>(PODS, namespace, pod);
    if (!podObj) throw new Error(`pod ${namespace}/${pod} does not exist`);
    const container = options.container ?? podObj.spec.containers[0]?.name ?? '';
    if (!podObj.spec.containers.some((c) => c.name === container)) throw new Error(`pod ${namespace}/${pod} has no container ${container}`);
    const now = this.now();
    const stamps = options.timestamps;
    const logLines: LogLine[] = lines.map((line, i) => {
      if (typeof line !== 'string') return { time: line.time, text: line.text };
      const time = Array.isArray(stamps) ? stamps[i] ?? now : stamps ?? now;
      return { time, text: line };
    });
    if (options.previous) this.ensureRestarted(podObj, container);
    this.logs.append(namespace, pod, container, logLines, options.previous ?? false);
  }

  private ensureRestarted(pod: Pod, container: string): void {
    const next = clone(pod);
    const status = next.status?.containerStatuses?.find((c) => c.name === container);
    if (!status || status.lastState.terminated) return;
    const ts = rfc3339(this.now());
    status.restartCount += 1;
    status.lastState = {
      terminated: { exitCode: 1, reason: 'Error', startedAt: pod.metadata.creationTimestamp ?? ts, finishedAt: ts, containerID: status.containerID ?? '' },
    };
    this.store.put(PODS, next);
  }

  /** Ends open follow streams of a pod (or one container). Returns how many were ended. */
  endLogStream(namespace: string, pod: string, container?: string): number {
    return this.logs.endStreams(namespace, pod, container);
  }

  // -------------------------------------------------------------------------
  // Jobs

  /** Decides the outcome of every new Job (return undefined to fall back to prefix rules / success). */
  onJob(handler: JobHandler | undefined): void {
    this.jobs.onJob(handler);
  }

  /** Outcome for Jobs whose name starts with the prefix (longest prefix wins). */
  setJobOutcome(namePrefix: string, outcome: JobOutcome): void {
    this.jobs.setOutcome(namePrefix, outcome);
  }

  /** Finishes a running Job (one created with `hold: true` or pending polls) now. */
  finishJob(namespace: string, name: string, outcome: JobOutcome): Job {
    return this.jobs.finish(namespace, name, outcome);
  }

  // -------------------------------------------------------------------------
  // Accessors (copies; changing them does not change the fake)

  getObject<T extends KubeObject = KubeObject>(resource: ResourceName, namespace: string | undefined, name: string): T | undefined {
    return this.store.find<T>(resourceInfo(resource), namespace, name);
  }

  listObjects<T extends KubeObject = KubeObject>(resource: ResourceName, namespace?: string): T[] {
    return this.store.list<T>(resourceInfo(resource), namespace);
  }

  getNamespace(name: string): Namespace | undefined {
    return this.getObject<Namespace>('namespaces', undefined, name);
  }

  getDeployment(namespace: string, name: string): Deployment | undefined {
    return this.getObject<Deployment>('deployments', namespace, name);
  }

  /** The Deployment's ReplicaSets (by controller ownerReference), oldest revision first. */
  getReplicaSets(namespace: string, deployment: string): ReplicaSet[] {
    const dep = this.getDeployment(namespace, deployment);
    if (!dep) return [];
    return this.workloads.ownedReplicaSets(dep).sort((a, b) => revisionOf(a) - revisionOf(b));
  }

  /** The ReplicaSet whose template equals the Deployment's current template. */
  getLiveReplicaSet(namespace: string, deployment: string): ReplicaSet | undefined {
    return this.workloads.newReplicaSetOf(namespace, deployment);
  }

  getStatefulSet(namespace: string, name: string): StatefulSet | undefined {
    return this.getObject<StatefulSet>('statefulsets', namespace, name);
  }

  /** Pods in a namespace, optionally filtered by a label selector (string or map). */
  getPods(namespace: string, selector?: string | Record<string, string>): Pod[] {
    const reqs =
      selector === undefined
        ? []
        : typeof selector === 'string'
          ? parseLabelSelector(selector)
          : Object.entries(selector).map(([key, value]) => ({ key, op: '=' as const, values: [value] }));
    return this.store.list<Pod>(PODS, namespace, (p) => matchesRequirements(p.metadata.labels, reqs));
  }

  /** Pods of a Deployment (all its ReplicaSets, or only the live one). */
  getDeploymentPods(namespace: string, deployment: string, which: 'all' | 'live' = 'all'): Pod[] {
    const sets = which === 'live' ? [this.getLiveReplicaSet(namespace, deployment)].filter((r) => r !== undefined) : this.getReplicaSets(namespace, deployment);
    const uids = new Set(sets.map((rs) => rs.metadata.uid));
    return this.store.list<Pod>(PODS, namespace, (p) => (p.metadata.ownerReferences ?? []).some((r) => uids.has(r.uid)));
  }

  getSecret(namespace: string, name: string): Secret | undefined {
    return this.getObject<Secret>('secrets', namespace, name);
  }

  /** A Secret's data, base64-decoded to UTF-8 strings. */
  getSecretData(namespace: string, name: string): Record<string, string> | undefined {
    const secret = this.getSecret(namespace, name);
    if (!secret) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
    return out;
  }

  getIngress(namespace: string, name: string): Ingress | undefined {
    return this.getObject<Ingress>('ingresses', namespace, name);
  }

  getJob(namespace: string, name: string): Job | undefined {
    return this.getObject<Job>('jobs', namespace, name);
  }

  /** Pods created for a Job (by label job-name, like kubectl). */
  getJobPods(namespace: string, job: string): Pod[] {
    return this.getPods(namespace, { 'job-name': job });
  }

  /** Pods owned by an object (controller ownerReference). */
  getOwnedPods(owner: KubeObject): Pod[] {
    return this.store.list<Pod>(PODS, owner.metadata.namespace, (p) => ownedBy(p, owner.metadata.uid));
  }
}
