/**
 * Small, general Kubernetes helpers shared by the incident, deploy and rotation areas. Each takes the
 * clients it uses (`KubeClients`) and a namespace; none keeps state. They follow what kubectl does
 * (rollout history, undo, restart, status) so the bot and an engineer with kubectl agree.
 */
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Log, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Deployment, V1Job, V1LabelSelector, V1Pod, V1PodTemplateSpec, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeClients } from '../../src/core/types.ts';
import { canonicalJson } from '../../src/core/stable-json.ts';
import { UserFacingError } from '../../src/core/types.ts';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
const POD_TEMPLATE_HASH = 'pod-template-hash';

/** Deployment annotations kubectl keeps as they are when rolling back (never copied from the ReplicaSet). */
const ANNOTATIONS_TO_SKIP = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

export type WorkloadKind = 'Deployment' | 'StatefulSet';
export interface Workload {
  kind: WorkloadKind;
  name: string;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** HTTP status and Kubernetes Status message of a failed API call (undefined code: not an API error). */
export function apiError(error: unknown): { code?: number; message: string; reason?: string } {
  const e = error as { code?: unknown; body?: unknown; message?: unknown };
  const code = typeof e?.code === 'number' ? e.code : undefined;
  let message = typeof e?.message === 'string' ? e.message : String(error);
  let reason: string | undefined;
  let body: unknown = e?.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      if (text.trim()) message = text.trim().slice(0, 500);
    }
  }
  if (body && typeof body === 'object') {
    const status = body as { message?: unknown; reason?: unknown };
    if (typeof status.message === 'string' && status.message) message = status.message;
    if (typeof status.reason === 'string') reason = status.reason;
  }
  return { code, message, reason };
}

export function isNotFound(error: unknown): boolean {
  return apiError(error).code === 404;
}

export function isConflict(error: unknown): boolean {
  return apiError(error).code === 409;
}

/** Rethrows an API error as a UserFacingError that says what was being done. */
export function kubeFailure(what: string, error: unknown): UserFacingError {
  if (error instanceof UserFacingError) return error;
  const { code, message } = apiError(error);
  if (code === 401 || code === 403) {
    return new UserFacingError(`${what}: Kubernetes refused (${code}): ${message}`, "Check the bot's service account RBAC in the namespace.");
  }
  return new UserFacingError(`${what}: ${code ? `Kubernetes answered ${code}: ` : ''}${message}`);
}

const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const jsonPatch = () => setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

// ---------------------------------------------------------------------------------------------
// Reading workloads

/** A label selector as the `labelSelector` query string (matchLabels and matchExpressions). */
export function selectorString(selector: V1LabelSelector | undefined): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) parts.push(`${key}=${value}`);
  for (const expr of selector?.matchExpressions ?? []) {
    const values = (expr.values ?? []).join(',');
    switch (expr.operator) {
      case 'In':
        parts.push(`${expr.key} in (${values})`);
        break;
      case 'NotIn':
        parts.push(`${expr.key} notin (${values})`);
        break;
      case 'Exists':
        parts.push(expr.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${expr.key}`);
        break;
      default:
        throw new UserFacingError(`unsupported label selector operator ${expr.operator} on ${expr.key}`);
    }
  }
  return parts.join(',');
}

export async function readDeployment(kube: KubeClients, namespace: string, name: string): Promise<V1Deployment> {
  try {
    return await kube.apps.readNamespacedDeployment({ name, namespace });
  } catch (error) {
    if (isNotFound(error)) throw new UserFacingError(`Deployment ${name} not found in namespace ${namespace}.`);
    throw kubeFailure(`reading Deployment ${name}`, error);
  }
}

export async function readWorkload(kube: KubeClients, namespace: string, workload: Workload): Promise<V1Deployment | V1StatefulSet> {
  if (workload.kind === 'Deployment') return readDeployment(kube, namespace, workload.name);
  try {
    return await kube.apps.readNamespacedStatefulSet({ name: workload.name, namespace });
  } catch (error) {
    if (isNotFound(error)) throw new UserFacingError(`StatefulSet ${workload.name} not found in namespace ${namespace}.`);
    throw kubeFailure(`reading StatefulSet ${workload.name}`, error);
  }
}

/** The names of the Deployments in the namespace, sorted. */
export async function listDeploymentNames(kube: KubeClients, namespace: string): Promise<string[]> {
  try {
    const list = await kube.apps.listNamespacedDeployment({ namespace });
    return list.items.map((d) => d.metadata?.name ?? '').filter(Boolean).sort();
  } catch (error) {
    throw kubeFailure(`listing Deployments in ${namespace}`, error);
  }
}

/** Pods selected by a workload's selector, oldest first. */
export async function podsOf(kube: KubeClients, namespace: string, workload: V1Deployment | V1StatefulSet): Promise<V1Pod[]> {
  const labelSelector = selectorString(workload.spec?.selector);
  if (!labelSelector) throw new UserFacingError(`${workload.metadata?.name ?? 'workload'} has no pod selector.`);
  try {
    const list = await kube.core.listNamespacedPod({ namespace, labelSelector });
    return [...list.items].sort((a, b) => time(a.metadata?.creationTimestamp) - time(b.metadata?.creationTimestamp));
  } catch (error) {
    throw kubeFailure(`listing pods of ${workload.metadata?.name ?? 'workload'}`, error);
  }
}

function time(value: Date | string | undefined): number {
  if (!value) return 0;
  const t = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(t) ? 0 : t;
}

export function containerImages(template: V1PodTemplateSpec | undefined): string[] {
  return (template?.spec?.containers ?? []).map((c) => c.image ?? '(no image)');
}

// ---------------------------------------------------------------------------------------------
// Rollout history (ReplicaSets of a Deployment)

export interface Revision {
  revision: number;
  replicaSet: string;
  images: string[];
  changeCause?: string;
  created?: Date;
  replicas: number;
  readyReplicas: number;
  /** The ReplicaSet the Deployment's current template belongs to. */
  live: boolean;
  template: V1PodTemplateSpec;
  annotations: Record<string, string>;
}

export interface RolloutHistory {
  deployment: V1Deployment;
  /** Oldest revision first. */
  revisions: Revision[];
  live?: Revision;
}

function ownedBy(rs: V1ReplicaSet, deployment: V1Deployment): boolean {
  const uid = deployment.metadata?.uid;
  const owners = rs.metadata?.ownerReferences ?? [];
  return owners.some((o) => o.kind === 'Deployment' && (uid ? o.uid === uid : o.name === deployment.metadata?.name));
}

/** Pod templates equal apart from the pod-template-hash label (as kubectl compares them). */
export function sameTemplate(a: V1PodTemplateSpec | undefined, b: V1PodTemplateSpec | undefined): boolean {
  return canonicalJson(withoutHash(a)) === canonicalJson(withoutHash(b));
}

function withoutHash(template: V1PodTemplateSpec | undefined): unknown {
  const copy = structuredClone(template ?? {}) as V1PodTemplateSpec;
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[POD_TEMPLATE_HASH];
    if (Object.keys(copy.metadata.labels).length === 0) delete copy.metadata.labels;
  }
  if (copy.metadata && Object.keys(copy.metadata).length === 0) delete copy.metadata;
  return copy;
}

/** The Deployment's ReplicaSets as revisions (oldest first), with the live one marked. */
export async function rolloutHistory(kube: KubeClients, namespace: string, deploymentOrName: V1Deployment | string): Promise<RolloutHistory> {
  const deployment = typeof deploymentOrName === 'string' ? await readDeployment(kube, namespace, deploymentOrName) : deploymentOrName;
  const name = deployment.metadata?.name ?? '?';
  let items: V1ReplicaSet[];
  try {
    const list = await kube.apps.listNamespacedReplicaSet({ namespace, labelSelector: selectorString(deployment.spec?.selector) || undefined });
    items = list.items;
  } catch (error) {
    throw kubeFailure(`listing ReplicaSets of ${name}`, error);
  }
  const liveRevision = Number(deployment.metadata?.annotations?.[REVISION_ANNOTATION] ?? NaN);
  const revisions: Revision[] = items
    .filter((rs) => ownedBy(rs, deployment))
    .map((rs) => {
      const annotations = rs.metadata?.annotations ?? {};
      const template = rs.spec?.template ?? {};
      return {
        revision: Number(annotations[REVISION_ANNOTATION] ?? 0) || 0,
        replicaSet: rs.metadata?.name ?? '?',
        images: containerImages(template),
        changeCause: annotations[CHANGE_CAUSE_ANNOTATION],
        created: rs.metadata?.creationTimestamp ? new Date(rs.metadata.creationTimestamp) : undefined,
        replicas: rs.status?.replicas ?? 0,
        readyReplicas: rs.status?.readyReplicas ?? 0,
        live: false,
        template,
        annotations,
      };
    })
    .sort((a, b) => a.revision - b.revision);
  let live = Number.isFinite(liveRevision) ? revisions.find((r) => r.revision === liveRevision) : undefined;
  live ??= revisions.find((r) => sameTemplate(r.template, deployment.spec?.template));
  if (live) live.live = true;
  return { deployment, revisions, live };
}

// ---------------------------------------------------------------------------------------------
// Undo (rollback to a revision), as `kubectl rollout undo [--to-revision N]`

export interface UndoPlan {
  deployment: string;
  resourceVersion: string;
  fromRevision?: number;
  toRevision: number;
  fromImages: string[];
  toImages: string[];
  replicaSet: string;
  /** True when the current template already matches the target revision (nothing to do). */
  alreadyCurrent: boolean;
}

/** Works out what `undo` will do without changing anything. `toRevision` 0 or undefined: the previous revision. */
export async function planUndo(kube: KubeClients, namespace: string, name: string, toRevision?: number): Promise<UndoPlan & { target: Revision; history: RolloutHistory }> {
  const history = await rolloutHistory(kube, namespace, name);
  const { deployment, revisions } = history;
  if (deployment.spec?.paused) throw new UserFacingError(`Deployment ${name} is paused: resume it (kubectl rollout resume) before rolling back.`);
  let target: Revision | undefined;
  if (!toRevision) {
    if (revisions.length < 2) throw new UserFacingError(`Deployment ${name} has no previous revision to roll back to (history: ${revisions.map((r) => r.revision).join(', ') || 'empty'}).`);
    const current = history.live?.revision ?? revisions[revisions.length - 1]!.revision;
    // kubectl takes the second-highest revision; when the live one is not the newest, the one just before it.
    target = [...revisions].reverse().find((r) => r.revision < current) ?? revisions[revisions.length - 2];
  } else {
    target = revisions.find((r) => r.revision === toRevision);
    if (!target) throw new UserFacingError(`Deployment ${name} has no revision ${toRevision} (known: ${revisions.map((r) => r.revision).join(', ') || 'none'}).`);
  }
  if (!target) throw new UserFacingError(`Deployment ${name}: no revision to roll back to.`);
  return {
    deployment: name,
    resourceVersion: deployment.metadata?.resourceVersion ?? '',
    fromRevision: history.live?.revision,
    toRevision: target.revision,
    fromImages: containerImages(deployment.spec?.template),
    toImages: target.images,
    replicaSet: target.replicaSet,
    alreadyCurrent: sameTemplate(target.template, deployment.spec?.template),
    target,
    history,
  };
}

export interface UndoResult extends UndoPlan {
  /** The Deployment's generation after the patch (what the rollout must observe). */
  generation?: number;
}

/**
 * Copies the target revision's pod template into the Deployment (kubectl's JSON patch of
 * /spec/template and /metadata/annotations), guarded by the resourceVersion read before: a
 * concurrent change makes the API answer 409 and nothing is changed. The Deployment's
 * controllers write its status all the time (each write a new resourceVersion): a 409 after
 * which the Deployment still runs the same template and the target revision is the same one is
 * retried with a fresh read (up to `attempts` times); any other change stops with nothing changed.
 */
export async function undoDeployment(
  kube: KubeClients,
  namespace: string,
  name: string,
  options: { toRevision?: number; changeCause?: string; expectedResourceVersion?: string; attempts?: number } = {},
): Promise<UndoResult> {
  const attempts = options.attempts ?? 3;
  let plan = await planUndo(kube, namespace, name, options.toRevision);
  if (options.expectedResourceVersion && options.expectedResourceVersion !== plan.resourceVersion) {
    throw new UserFacingError(`Deployment ${name} changed since the rollback was planned (resourceVersion ${options.expectedResourceVersion} → ${plan.resourceVersion}); nothing was changed. Run the command again.`);
  }
  for (let attempt = 1; ; attempt++) {
    if (plan.alreadyCurrent) return { ...stripPlan(plan) };
    try {
      const patched = await kube.apps.patchNamespacedDeployment({ name, namespace, body: undoPatch(plan, options.changeCause) }, jsonPatch());
      return { ...stripPlan(plan), generation: patched.metadata?.generation };
    } catch (error) {
      if (!isConflict(error)) throw kubeFailure(`patching Deployment ${name}`, error);
      const again = attempt < attempts ? await planUndo(kube, namespace, name, options.toRevision) : undefined;
      const onlyStatus =
        again !== undefined &&
        again.toRevision === plan.toRevision &&
        sameTemplate(again.history.deployment.spec?.template, plan.history.deployment.spec?.template) &&
        sameTemplate(again.target.template, plan.target.template);
      if (!onlyStatus) {
        const why = again === undefined ? `kept changing while rolling back (409 Conflict ${attempts} times)` : 'was changed by someone else while rolling back (409 Conflict)';
        throw new UserFacingError(`Deployment ${name} ${why}; nothing was changed. Check \`history ${name}\` and run the command again.`);
      }
      plan = again;
    }
  }
}

/** The JSON patch that makes the Deployment run `plan`'s target template, guarded by the resourceVersion the plan read. */
function undoPatch(plan: UndoPlan & { target: Revision; history: RolloutHistory }, changeCause: string | undefined): unknown[] {
  const template = structuredClone(plan.target.template);
  if (template.metadata?.labels) delete template.metadata.labels[POD_TEMPLATE_HASH];
  const current = plan.history.deployment.metadata?.annotations ?? {};
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(current)) if (ANNOTATIONS_TO_SKIP.has(key)) annotations[key] = value;
  for (const [key, value] of Object.entries(plan.target.annotations)) if (!ANNOTATIONS_TO_SKIP.has(key)) annotations[key] = value;
  if (changeCause) annotations[CHANGE_CAUSE_ANNOTATION] = changeCause;
  return [
    { op: 'replace', path: '/metadata/resourceVersion', value: plan.resourceVersion },
    { op: 'replace', path: '/spec/template', value: serializeTemplate(template) },
    { op: 'replace', path: '/metadata/annotations', value: annotations },
  ];
}

function stripPlan(plan: UndoPlan & { target?: unknown; history?: unknown }): UndoPlan {
  const { target: _t, history: _h, ...rest } = plan;
  return rest;
}

/** Models carry Dates; the JSON patch body must hold what the API serves (RFC 3339 strings). */
function serializeTemplate(template: V1PodTemplateSpec): unknown {
  return JSON.parse(JSON.stringify(template));
}

// ---------------------------------------------------------------------------------------------
// Restart, as `kubectl rollout restart`

/** Sets the restartedAt annotation on the pod template; the controller replaces the pods. Returns the new generation. */
export async function rolloutRestart(kube: KubeClients, namespace: string, workload: Workload, at: Date): Promise<{ generation?: number }> {
  const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: at.toISOString() } } } } };
  try {
    const patched =
      workload.kind === 'Deployment'
        ? await kube.apps.patchNamespacedDeployment({ name: workload.name, namespace, body }, mergePatch())
        : await kube.apps.patchNamespacedStatefulSet({ name: workload.name, namespace, body }, mergePatch());
    return { generation: patched.metadata?.generation };
  } catch (error) {
    if (isNotFound(error)) throw new UserFacingError(`${workload.kind} ${workload.name} not found in namespace ${namespace}.`);
    throw kubeFailure(`restarting ${workload.kind} ${workload.name}`, error);
  }
}

// ---------------------------------------------------------------------------------------------
// Rollout status, as `kubectl rollout status`

export interface RolloutState {
  done: boolean;
  /** The rollout can no longer succeed by waiting (progress deadline exceeded, unsupported strategy). */
  failed: boolean;
  message: string;
  desired: number;
  updated: number;
  ready: number;
  available: number;
}

export function deploymentRolloutState(d: V1Deployment, minGeneration = 0): RolloutState {
  const name = d.metadata?.name ?? '?';
  const desired = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  const base = { desired, updated: s.updatedReplicas ?? 0, ready: s.readyReplicas ?? 0, available: s.availableReplicas ?? 0 };
  const generation = d.metadata?.generation ?? 0;
  if ((s.observedGeneration ?? 0) < Math.max(generation, minGeneration)) {
    return { ...base, done: false, failed: false, message: `waiting for the Deployment ${name} spec update to be observed` };
  }
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return { ...base, done: false, failed: true, message: `Deployment ${name} exceeded its progress deadline${progressing.message ? `: ${progressing.message}` : ''}` };
  }
  if (base.updated < desired) return { ...base, done: false, failed: false, message: `${base.updated} of ${desired} new replicas updated` };
  if ((s.replicas ?? 0) > base.updated) return { ...base, done: false, failed: false, message: `${(s.replicas ?? 0) - base.updated} old replicas pending termination` };
  if (base.available < base.updated) return { ...base, done: false, failed: false, message: `${base.available} of ${base.updated} updated replicas available` };
  return { ...base, done: true, failed: false, message: `Deployment ${name}: ${base.updated}/${desired} replicas updated and available` };
}

export function statefulSetRolloutState(s: V1StatefulSet, minGeneration = 0): RolloutState {
  const name = s.metadata?.name ?? '?';
  const desired = s.spec?.replicas ?? 1;
  const st = s.status ?? { replicas: 0 };
  const base = { desired, updated: st.updatedReplicas ?? 0, ready: st.readyReplicas ?? 0, available: st.availableReplicas ?? st.readyReplicas ?? 0 };
  const strategy = s.spec?.updateStrategy;
  if (strategy?.type && strategy.type !== 'RollingUpdate') {
    return { ...base, done: false, failed: true, message: `StatefulSet ${name} uses the ${strategy.type} update strategy: pods are only replaced when deleted` };
  }
  const generation = s.metadata?.generation ?? 0;
  if (!st.observedGeneration || st.observedGeneration < Math.max(generation, minGeneration)) {
    return { ...base, done: false, failed: false, message: `waiting for the StatefulSet ${name} spec update to be observed` };
  }
  if (base.ready < desired) return { ...base, done: false, failed: false, message: `${base.ready} of ${desired} pods ready` };
  const partition = strategy?.rollingUpdate?.partition ?? 0;
  if (partition > 0) {
    if (base.updated < desired - partition) return { ...base, done: false, failed: false, message: `partitioned rollout: ${base.updated} of ${desired - partition} new pods updated` };
    return { ...base, done: true, failed: false, message: `StatefulSet ${name}: partitioned rollout complete (${base.updated} new pods)` };
  }
  if (st.updateRevision && st.currentRevision && st.updateRevision !== st.currentRevision) {
    return { ...base, done: false, failed: false, message: `rolling update: ${base.updated} of ${desired} pods at revision ${st.updateRevision}` };
  }
  return { ...base, done: true, failed: false, message: `StatefulSet ${name}: ${base.ready}/${desired} pods ready at the new revision` };
}

export interface WaitOptions {
  timeoutMs: number;
  /** Poll interval; default 2 s. */
  pollMs?: number;
  signal?: AbortSignal;
  /** Generation the controller must have observed (from the patch that started the rollout). */
  minGeneration?: number;
  /** Called when the status message changes. */
  onProgress?(state: RolloutState): void | Promise<void>;
}

export interface RolloutOutcome extends RolloutState {
  timedOut: boolean;
}

/** Polls the workload until the rollout is complete, cannot progress, or the timeout passes. */
export async function waitForRollout(kube: KubeClients, namespace: string, workload: Workload, options: WaitOptions): Promise<RolloutOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  const pollMs = options.pollMs ?? 2000;
  let lastMessage = '';
  for (;;) {
    options.signal?.throwIfAborted();
    const obj = await readWorkload(kube, namespace, workload);
    const state =
      workload.kind === 'Deployment'
        ? deploymentRolloutState(obj as V1Deployment, options.minGeneration)
        : statefulSetRolloutState(obj as V1StatefulSet, options.minGeneration);
    if (state.message !== lastMessage) {
      lastMessage = state.message;
      await options.onProgress?.(state);
    }
    if (state.done || state.failed) return { ...state, timedOut: false };
    if (Date.now() >= deadline) return { ...state, timedOut: true };
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), undefined, { signal: options.signal });
  }
}

// ---------------------------------------------------------------------------------------------
// Pod logs

export interface LogReadOptions {
  container?: string;
  previous?: boolean;
  sinceSeconds?: number;
  tailLines?: number;
  limitBytes?: number;
  /** Prefix each line with the RFC 3339 time the runtime received it. */
  timestamps?: boolean;
}

const NO_CONTENT = /^Cannot parse content\. No Content-Type defined\.$/;

/** Reads a container's log (not following). Throws UserFacingError with the API's message. */
export async function readPodLog(kube: KubeClients, namespace: string, pod: string, options: LogReadOptions = {}): Promise<string> {
  try {
    return await kube.core.readNamespacedPodLog({
      name: pod,
      namespace,
      container: options.container,
      previous: options.previous || undefined,
      sinceSeconds: options.sinceSeconds,
      tailLines: options.tailLines,
      limitBytes: options.limitBytes,
      timestamps: options.timestamps || undefined,
    });
  } catch (error) {
    const what = `logs of pod ${pod}${options.container ? ` (container ${options.container})` : ''}${options.previous ? ' (previous container)' : ''}`;
    // The client cannot parse the API's 204 (no body), its answer for a pod not yet on a node.
    if (error instanceof Error && NO_CONTENT.test(error.message)) throw new UserFacingError(`${what}: Kubernetes answered without a log (the pod has not been scheduled to a node yet)`);
    throw kubeFailure(what, error);
  }
}

/** A Writable that calls `onLine` for each complete line (lines longer than `maxLine` are cut). */
export function lineSink(onLine: (line: string) => void | Promise<void>, maxLine = 16_384): Writable {
  let partial = '';
  let overflow = false;
  const decoder = new TextDecoder();
  const emit = async (line: string) => {
    await onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  };
  return new Writable({
    async write(chunk: Buffer | string, _enc, callback) {
      try {
        const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
        let start = 0;
        for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', start)) {
          const piece = text.slice(start, i);
          const line = overflow ? partial : partial + piece;
          partial = '';
          overflow = false;
          await emit(line.length > maxLine ? line.slice(0, maxLine) : line);
          start = i + 1;
        }
        if (!overflow) {
          partial += text.slice(start);
          if (partial.length > maxLine) {
            partial = partial.slice(0, maxLine);
            overflow = true;
          }
        }
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    async final(callback) {
      try {
        partial += decoder.decode();
        if (partial) await emit(partial);
        partial = '';
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}

/** What the log endpoint is asked for (the client's LogOptions). */
export type PodLogRequest = LogReadOptions & { follow?: boolean };

/**
 * Opens a container's log into `writable`. The client pipes the response body into it with
 * pipe(), which does not forward the body's errors: an aborted or broken response would emit an
 * 'error' nobody listens to, and that takes the process down. Here both streams have a listener:
 * `done` resolves when `writable` finished and rejects when either stream failed (an abort
 * through `controller` included); it never counts as an unhandled rejection.
 */
export async function openPodLog(
  kube: KubeClients,
  namespace: string,
  pod: string,
  container: string,
  writable: Writable,
  request: PodLogRequest,
): Promise<{ controller: AbortController; done: Promise<void> }> {
  const done = new Promise<void>((resolve, reject) => {
    writable.once('finish', () => resolve());
    writable.on('error', reject);
    writable.once('pipe', (source: NodeJS.ReadableStream) => source.on('error', reject));
  });
  done.catch(() => undefined);
  const controller = await new Log(kube.config).log(namespace, pod, container, writable, {
    follow: request.follow ?? false,
    previous: request.previous ?? false,
    sinceSeconds: request.sinceSeconds,
    tailLines: request.tailLines,
    limitBytes: request.limitBytes,
    timestamps: request.timestamps,
  });
  return { controller, done };
}

/**
 * Streams a container's log line by line (optionally following it until the container ends).
 * Memory stays bounded: lines are handed over as they arrive. Resolves when the stream ends or
 * `signal` aborts it (a follow stream whose connection drops silently only ends that way);
 * aborting is a normal, quiet end.
 */
export async function streamPodLog(
  kube: KubeClients,
  namespace: string,
  pod: string,
  onLine: (line: string) => void | Promise<void>,
  options: PodLogRequest & { signal?: AbortSignal } = {},
): Promise<void> {
  const signal = options.signal;
  if (signal?.aborted) return;
  const sink = lineSink(onLine);
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  let controller: AbortController | undefined;
  try {
    const opened = await openPodLog(kube, namespace, pod, options.container ?? '', sink, options);
    controller = opened.controller;
    await Promise.race([opened.done, stopped]);
  } catch (error) {
    if (signal?.aborted) return;
    throw kubeFailure(`logs of pod ${pod}`, error);
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    // Ends the request when it is still open (an abort, or a sink that failed); a no-op otherwise.
    controller?.abort();
    sink.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// One-off Jobs (migrations, checks)

export interface RunJobOptions {
  /** How long to wait for the Job to finish. */
  timeoutMs: number;
  pollMs?: number;
  signal?: AbortSignal;
  /** Each log line of the Job's pod, as it arrives. */
  onLine?(line: string): void | Promise<void>;
  /** Progress messages (pod scheduled, container started, ...). */
  onProgress?(message: string): void | Promise<void>;
}

export interface JobOutcome {
  name: string;
  succeeded: boolean;
  timedOut: boolean;
  /** Exit code of the Job's (first) container, when it terminated. */
  exitCode?: number;
  /** Why it failed: Job condition reason/message, container waiting reason, or timeout. */
  reason?: string;
  pod?: string;
  deleted: boolean;
}

/** Container states that never resolve by waiting. */
const STUCK_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError']);

async function jobPods(kube: KubeClients, namespace: string, job: V1Job): Promise<V1Pod[]> {
  const name = job.metadata?.name ?? '';
  const uid = job.metadata?.uid;
  for (const labelSelector of [`batch.kubernetes.io/job-name=${name}`, `job-name=${name}`]) {
    const list = await kube.core.listNamespacedPod({ namespace, labelSelector });
    if (list.items.length) return list.items;
  }
  if (!uid) return [];
  const all = await kube.core.listNamespacedPod({ namespace });
  return all.items.filter((p) => (p.metadata?.ownerReferences ?? []).some((o) => o.uid === uid));
}

function jobFinished(job: V1Job): { done: boolean; succeeded: boolean; reason?: string } {
  const conditions = job.status?.conditions ?? [];
  const complete = conditions.find((c) => (c.type === 'Complete' || c.type === 'SuccessCriteriaMet') && c.status === 'True');
  if (complete) return { done: true, succeeded: true };
  const failed = conditions.find((c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True');
  if (failed) return { done: true, succeeded: false, reason: [failed.reason, failed.message].filter(Boolean).join(': ') || 'Failed' };
  const completions = job.spec?.completions ?? 1;
  if ((job.status?.succeeded ?? 0) >= completions) return { done: true, succeeded: true };
  if ((job.status?.failed ?? 0) > (job.spec?.backoffLimit ?? 6)) return { done: true, succeeded: false, reason: 'BackoffLimitExceeded' };
  return { done: false, succeeded: false };
}

function terminatedExitCode(pod: V1Pod | undefined): number | undefined {
  const statuses = pod?.status?.containerStatuses ?? [];
  for (const status of statuses) {
    const code = status.state?.terminated?.exitCode ?? status.lastState?.terminated?.exitCode;
    if (code !== undefined) return code;
  }
  return undefined;
}

function containerStarted(pod: V1Pod): boolean {
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return true;
  return (pod.status?.containerStatuses ?? []).some((s) => s.state?.running || s.state?.terminated);
}

function stuckReason(pod: V1Pod): string | undefined {
  for (const status of pod.status?.containerStatuses ?? []) {
    const waiting = status.state?.waiting;
    if (waiting?.reason && STUCK_REASONS.has(waiting.reason)) return `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
  }
  return undefined;
}

export async function deleteJob(kube: KubeClients, namespace: string, name: string): Promise<boolean> {
  try {
    await kube.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' });
    return true;
  } catch (error) {
    if (isNotFound(error)) return true;
    return false;
  }
}

/**
 * Creates the Job, streams its pod's log while it runs, waits for it to complete or fail and
 * reports the container's exit code. A Job stuck on an image or configuration error is stopped
 * (deleted) rather than waited out. Once it succeeded or failed, and its log was read, the Job is
 * deleted with propagationPolicy Background; one still running at the timeout is left to its TTL.
 */
export async function runJob(kube: KubeClients, namespace: string, spec: V1Job, options: RunJobOptions): Promise<JobOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  const pollMs = options.pollMs ?? 1000;
  let job: V1Job;
  try {
    job = await kube.batch.createNamespacedJob({ namespace, body: spec });
  } catch (error) {
    if (isConflict(error)) throw new UserFacingError(`Job ${spec.metadata?.name} already exists in ${namespace}; nothing was started.`);
    throw kubeFailure(`creating Job ${spec.metadata?.name ?? ''}`, error);
  }
  const name = job.metadata?.name ?? spec.metadata?.name ?? '?';
  await options.onProgress?.(`Job ${name} created`);
  const outcome: JobOutcome = { name, succeeded: false, timedOut: false, deleted: false };
  const finish = async (result: JobOutcome, remove: boolean): Promise<JobOutcome> => {
    if (remove) result.deleted = await deleteJob(kube, namespace, name);
    return result;
  };

  // The log is followed in the background while the Job is polled: the stream ends with the
  // container, and is cut a little after the Job finished if it has not ended by then.
  const streamAbort = new AbortController();
  const streamSignal = options.signal ? AbortSignal.any([streamAbort.signal, options.signal]) : streamAbort.signal;
  let streaming: Promise<void> | undefined;
  const stopStreaming = async (graceMs: number) => {
    if (!streaming) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([streaming, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    streamAbort.abort();
    await streaming;
  };
  let started = false;
  let podName: string | undefined;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      let current: V1Job;
      try {
        current = await kube.batch.readNamespacedJob({ name, namespace });
      } catch (error) {
        throw kubeFailure(`reading Job ${name}`, error);
      }
      const pods = await jobPods(kube, namespace, current);
      const pod = pods.sort((a, b) => time(b.metadata?.creationTimestamp) - time(a.metadata?.creationTimestamp))[0];
      if (pod && pod.metadata?.name !== podName) {
        podName = pod.metadata?.name;
        outcome.pod = podName;
        await options.onProgress?.(`pod ${podName} created`);
      }
      if (pod && !started) {
        const stuck = stuckReason(pod);
        if (stuck) return await finish({ ...outcome, reason: `pod ${podName} cannot start: ${stuck}` }, true);
        if (containerStarted(pod)) {
          started = true;
          if (options.onLine) {
            const onLine = options.onLine;
            streaming = streamPodLog(kube, namespace, podName!, onLine, { follow: true, signal: streamSignal }).catch(async (error: unknown) => {
              await options.onProgress?.(`log stream interrupted: ${apiError(error).message}`);
            });
          }
        }
      }
      const state = jobFinished(current);
      if (state.done) {
        await stopStreaming(5000);
        const finalPod = podName ? await kube.core.readNamespacedPod({ name: podName, namespace }).catch(() => pod) : pod;
        const exitCode = terminatedExitCode(finalPod);
        const result: JobOutcome = { ...outcome, succeeded: state.succeeded, exitCode, reason: state.reason };
        // Finished either way: its log has been read, so the Job is cleaned up.
        return await finish(result, true);
      }
      if (Date.now() >= deadline) {
        await stopStreaming(0);
        // It may still be running: deleting it would kill a migration half way. Its TTL removes it.
        return await finish({ ...outcome, timedOut: true, reason: `not finished after ${Math.round(options.timeoutMs / 1000)}s` }, false);
      }
      await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), undefined, { signal: options.signal });
    }
  } finally {
    streamAbort.abort();
    await streaming;
  }
}
