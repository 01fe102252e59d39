/**
 * Rollouts as kubectl does them: history, undo, restart and status of Deployments and
 * StatefulSets, so the bot and an engineer with kubectl agree.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Deployment, V1PodTemplateSpec, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeClients } from '../../src/core/types.ts';
import { canonicalJson } from '../../src/core/stable-json.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { CHANGE_CAUSE_ANNOTATION, REVISION_ANNOTATION, RESTARTED_AT_ANNOTATION, containerImages, isConflict, isNotFound, kubeFailure, readDeployment, readWorkload, selectorString } from './kube.ts';
import type { Workload } from './kube.ts';

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

const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const jsonPatch = () => setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
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
  /** Called with every state read (a chart samples the ready replicas from these). */
  onPoll?(state: RolloutState): void;
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
    options.onPoll?.(state);
    if (state.message !== lastMessage) {
      lastMessage = state.message;
      await options.onProgress?.(state);
    }
    if (state.done || state.failed) return { ...state, timedOut: false };
    if (Date.now() >= deadline) return { ...state, timedOut: true };
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), undefined, { signal: options.signal });
  }
}

