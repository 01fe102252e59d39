/**
 * The deployment, replica set and stateful set controllers.
 *
 * Deployments behave like the real controller: a pod template that matches
 * no owned ReplicaSet gets a new `<deploy>-<hash>` ReplicaSet with the next
 * revision; a template equal to an older ReplicaSet's (rollout undo) makes
 * that ReplicaSet the new one again with the next revision number. Replicas
 * move between ReplicaSets with the rolling-update arithmetic (maxSurge /
 * maxUnavailable), so a rollout whose new pods never become available stays
 * half-way, exactly where the real one would.
 *
 * Whether new pods become ready is decided per ReplicaSet (or StatefulSet
 * revision) when it becomes the rollout target, from, in order: a behaviour
 * registered for one of its images, the behaviour of its owner, 'ready'.
 */
import type { Cluster } from './cluster.ts';
import type { LogStore } from './logs.ts';
import type { PodState } from './pods.ts';
import { PODS, createPod, ownedBy, ownerReference, podIsReady, setPodState } from './pods.ts';
import type { ResourceInfo } from './resources.ts';
import { resourceInfo } from './resources.ts';
import type { Condition, Deployment, KubeObject, Pod, PodTemplateSpec, ReplicaSet, StatefulSet } from './types.ts';
import { canonicalJson, clone, deepEqual, fnv32a, parseIntOrPercent, randomSuffix, rfc3339, safeEncode } from './util.ts';

export const DEPLOYMENTS = resourceInfo('deployments');
export const REPLICASETS = resourceInfo('replicasets');
export const STATEFULSETS = resourceInfo('statefulsets');

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/** Deployment annotations the controller does not copy onto its ReplicaSets. */
const ANNOTATIONS_NOT_COPIED = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  'deprecated.deployment.rollback.to',
]);

export type RolloutMode = 'ready' | 'stuck';

export interface RolloutOptions {
  /** 'ready': number of GETs of the workload that still observe the rollout in progress (default 0). */
  readyAfterPolls?: number;
  /** 'stuck': after this many GETs, Progressing turns False/ProgressDeadlineExceeded (default: never). */
  deadlineAfterPolls?: number;
  /** 'stuck': how the new pods fail (default 'CrashLoopBackOff'). */
  failure?: 'CrashLoopBackOff' | 'ImagePullBackOff';
  /** 'stuck' + CrashLoopBackOff: the output of each crashed container (its previous logs). */
  crashLogs?: string[];
  /** 'stuck' + CrashLoopBackOff: exit code of the crashed container (default 1). */
  exitCode?: number;
  /** 'stuck' + CrashLoopBackOff: restartCount reported (default 5). */
  restartCount?: number;
}

interface Behaviour {
  mode: RolloutMode;
  options: RolloutOptions;
}

/** Readiness plan of one rollout target (a ReplicaSet, or a StatefulSet revision). */
interface Health extends Behaviour {
  pendingReads: number;
  deadlineReads: number | undefined;
  deadlineExceeded: boolean;
  complete: boolean;
}

const READY: Behaviour = { mode: 'ready', options: {} };

export function revisionOf(obj: KubeObject): number {
  const n = Number(obj.metadata.annotations?.[REVISION_ANNOTATION] ?? '0');
  return Number.isFinite(n) ? n : 0;
}

/** pod-template-hash: FNV-32a of the template, safe-encoded like the real controller. */
export function templateHash(template: PodTemplateSpec, collisionCount = 0): string {
  return safeEncode(String(fnv32a(canonicalJson(template) + (collisionCount > 0 ? String(collisionCount) : ''))));
}

function withoutHashLabel(template: PodTemplateSpec): PodTemplateSpec {
  const t = clone(template);
  if (t.metadata?.labels) delete t.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  return t;
}

/** The controller's EqualIgnoreHash. */
export function templatesEqual(a: PodTemplateSpec, b: PodTemplateSpec): boolean {
  return deepEqual(withoutHashLabel(a), withoutHashLabel(b));
}

function imagesOf(template: PodTemplateSpec): string[] {
  return [...(template.spec.initContainers ?? []), ...template.spec.containers].map((c) => c.image ?? '');
}

function creationOrder(a: KubeObject, b: KubeObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return revisionOf(a) - revisionOf(b);
}

function setCondition(existing: Condition[] | undefined, next: Condition, now: string): Condition {
  const prior = existing?.find((c) => c.type === next.type);
  if (prior && prior.status === next.status && prior.reason === next.reason && prior.message === next.message) return prior;
  return {
    ...next,
    lastUpdateTime: now,
    lastTransitionTime: prior && prior.status === next.status ? prior.lastTransitionTime ?? now : now,
  };
}

/** Drops zero counters, as the API's omitempty JSON does. */
function compact<T extends Record<string, unknown>>(status: T, keep: readonly string[] = []): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(status)) if (v !== 0 || keep.includes(k)) out[k] = v;
  return out as T;
}

export class Workloads {
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly imageBehaviours = new Map<string, Behaviour>();
  private readonly health = new Map<string, Health>();
  private readonly podStates = new Map<string, string>();
  private readonly stsTemplates = new Map<string, PodTemplateSpec>();
  private forceReady = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly logs: LogStore,
  ) {}

  // -------------------------------------------------------------------------
  // Behaviour configuration

  setBehaviour(info: ResourceInfo, namespace: string, name: string, mode: RolloutMode, options: RolloutOptions = {}): void {
    const behaviour: Behaviour = { mode, options: { ...options } };
    this.behaviours.set(`${info.plural}/${namespace}/${name}`, behaviour);
    // A rollout still under way switches to the new behaviour; finished ones keep theirs.
    const targetKey = this.currentTargetKey(info, namespace, name);
    const health = targetKey ? this.health.get(targetKey) : undefined;
    if (targetKey && health && !health.complete) {
      this.health.set(targetKey, this.newHealth(behaviour));
      this.resync(info, namespace, name);
    }
  }

  setImageBehaviour(image: string, mode: RolloutMode, options: RolloutOptions = {}): void {
    this.imageBehaviours.set(image, { mode, options: { ...options } });
  }

  /** Marks the current rollout of a workload as past its progress deadline. */
  expireProgressDeadline(info: ResourceInfo, namespace: string, name: string): void {
    const targetKey = this.currentTargetKey(info, namespace, name);
    const health = targetKey ? this.health.get(targetKey) : undefined;
    if (!health) throw new Error(`${info.kind} ${namespace}/${name} has no rollout in progress`);
    if (!health.complete) health.deadlineExceeded = true;
    this.resync(info, namespace, name);
  }

  /** Runs `fn` with every rollout target it creates treated as 'ready' (used for seeding). */
  withForcedReadiness<T>(fn: () => T): T {
    this.forceReady++;
    try {
      return fn();
    } finally {
      this.forceReady--;
    }
  }

  private newHealth(b: Behaviour): Health {
    return {
      mode: b.mode,
      options: b.options,
      pendingReads: b.mode === 'ready' ? Math.max(0, b.options.readyAfterPolls ?? 0) : 0,
      deadlineReads: b.mode === 'stuck' ? b.options.deadlineAfterPolls : undefined,
      deadlineExceeded: b.mode === 'stuck' && b.options.deadlineAfterPolls !== undefined && b.options.deadlineAfterPolls <= 0,
      complete: false,
    };
  }

  private imageBehaviour(template: PodTemplateSpec): Behaviour | undefined {
    for (const image of imagesOf(template)) {
      const b = this.imageBehaviours.get(image);
      if (b) return b;
    }
    return undefined;
  }

  private behaviourFor(info: ResourceInfo, owner: KubeObject, template: PodTemplateSpec): Behaviour {
    if (this.forceReady > 0) return READY;
    return (
      this.imageBehaviour(template) ??
      this.behaviours.get(`${info.plural}/${owner.metadata.namespace ?? ''}/${owner.metadata.name ?? ''}`) ??
      READY
    );
  }

  private podStateFor(health: Health | undefined): PodState {
    if (!health || health.mode === 'ready') return health && health.pendingReads > 0 ? { kind: 'starting' } : { kind: 'ready' };
    if (health.options.failure === 'ImagePullBackOff') return { kind: 'imagepull' };
    return { kind: 'crashloop', exitCode: health.options.exitCode ?? 1, restartCount: health.options.restartCount ?? 5 };
  }

  private applyPodState(pod: Pod, state: PodState, health: Health | undefined): Pod {
    const uid = pod.metadata.uid ?? '';
    const signature = JSON.stringify(state);
    if (this.podStates.get(uid) === signature) return pod;
    this.podStates.set(uid, signature);
    const updated = setPodState(this.cluster, pod, state);
    if (state.kind === 'crashloop') {
      const lines = health?.options.crashLogs ?? ['Starting application', `Error: process exited with code ${state.exitCode}`];
      const time = this.cluster.now();
      for (const c of pod.spec.containers) {
        this.logs.setPrevious(pod.metadata.namespace ?? '', pod.metadata.name ?? '', c.name, lines.map((text) => ({ time, text })));
      }
    }
    return updated;
  }

  private newPod(args: Parameters<typeof createPod>[1], health: Health | undefined): Pod {
    const pod = createPod(this.cluster, { ...args, state: { kind: 'starting' } });
    return this.applyPodState(pod, this.podStateFor(health), health);
  }

  private deletePod(pod: Pod): void {
    this.cluster.remove(PODS, pod.metadata.namespace, pod.metadata.name ?? '');
    this.forgetPod(pod);
  }

  /** Drops per-pod state once a pod is gone. */
  forgetPod(pod: KubeObject): void {
    this.podStates.delete(pod.metadata.uid ?? '');
    this.logs.removePod(pod.metadata.namespace ?? '', pod.metadata.name ?? '');
  }

  private ownedPods(namespace: string, uid: string | undefined): Pod[] {
    return this.cluster.list<Pod>(PODS, namespace, (p) => ownedBy(p, uid));
  }

  // -------------------------------------------------------------------------
  // Hooks

  afterWrite(info: ResourceInfo, obj: KubeObject): void {
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    if (info.plural === 'deployments') this.syncDeployment(ns, name);
    else if (info.plural === 'replicasets') this.syncReplicaSetAndOwner(ns, name);
    else if (info.plural === 'statefulsets') this.syncStatefulSet(ns, name);
  }

  afterDelete(info: ResourceInfo, obj: KubeObject): void {
    const ns = obj.metadata.namespace ?? '';
    if (info.plural === 'pods') {
      this.forgetPod(obj);
      const owner = obj.metadata.ownerReferences?.find((r) => r.controller);
      if (owner?.kind === 'ReplicaSet') this.syncReplicaSetAndOwner(ns, owner.name);
      if (owner?.kind === 'StatefulSet') this.syncStatefulSet(ns, owner.name);
    } else if (info.plural === 'replicasets') {
      this.health.delete(obj.metadata.uid ?? '');
      const owner = obj.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'Deployment');
      if (owner) this.syncDeployment(ns, owner.name);
    }
  }

  /** Called for every GET of a single workload: advances poll-driven rollouts. */
  onRead(info: ResourceInfo, namespace: string, name: string): void {
    if (info.plural !== 'deployments' && info.plural !== 'statefulsets') return;
    const targetKey = this.currentTargetKey(info, namespace, name);
    const health = targetKey ? this.health.get(targetKey) : undefined;
    if (!health || health.complete) return;
    let changed = false;
    if (health.mode === 'ready' && health.pendingReads > 0) {
      health.pendingReads--;
      changed = health.pendingReads === 0;
    } else if (health.mode === 'stuck' && health.deadlineReads !== undefined && !health.deadlineExceeded) {
      health.deadlineReads--;
      if (health.deadlineReads <= 0) {
        health.deadlineExceeded = true;
        changed = true;
      }
    }
    if (changed) this.resync(info, namespace, name);
  }

  private resync(info: ResourceInfo, namespace: string, name: string): void {
    if (info.plural === 'deployments') {
      const rs = this.newReplicaSetOf(namespace, name);
      if (rs) this.syncReplicaSet(namespace, rs.metadata.name ?? '');
      this.syncDeployment(namespace, name);
    } else if (info.plural === 'statefulsets') {
      this.syncStatefulSet(namespace, name);
    }
  }

  private currentTargetKey(info: ResourceInfo, namespace: string, name: string): string | undefined {
    if (info.plural === 'deployments') return this.newReplicaSetOf(namespace, name)?.metadata.uid;
    if (info.plural === 'statefulsets') {
      const sts = this.cluster.find<StatefulSet>(STATEFULSETS, namespace, name);
      return sts ? `${sts.metadata.uid ?? ''}/${this.stsRevision(sts)}` : undefined;
    }
    return undefined;
  }

  // -------------------------------------------------------------------------
  // ReplicaSets

  ownedReplicaSets(deployment: Deployment): ReplicaSet[] {
    return this.cluster.list<ReplicaSet>(REPLICASETS, deployment.metadata.namespace, (rs) => ownedBy(rs, deployment.metadata.uid));
  }

  /** The ReplicaSet whose template equals the deployment's (the rollout target). */
  newReplicaSetOf(namespace: string, name: string): ReplicaSet | undefined {
    const dep = this.cluster.find<Deployment>(DEPLOYMENTS, namespace, name);
    if (!dep) return undefined;
    return this.ownedReplicaSets(dep).find((rs) => templatesEqual(rs.spec.template, dep.spec.template));
  }

  private syncReplicaSetAndOwner(namespace: string, name: string): void {
    const rs = this.syncReplicaSet(namespace, name);
    const owner = rs?.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'Deployment');
    if (owner) this.syncDeployment(namespace, owner.name);
  }

  /** Creates/deletes pods to match spec.replicas, applies the pod state, updates status. */
  syncReplicaSet(namespace: string, name: string): ReplicaSet | undefined {
    const rs = this.cluster.find<ReplicaSet>(REPLICASETS, namespace, name);
    if (!rs) return undefined;
    const health = this.health.get(rs.metadata.uid ?? '');
    const desired = rs.spec.replicas ?? 1;
    let pods = this.ownedPods(namespace, rs.metadata.uid);
    for (let i = pods.length; i < desired; i++) {
      this.newPod(
        {
          namespace,
          name: `${name}-${randomSuffix()}`,
          generateName: `${name}-`,
          template: rs.spec.template,
          owner: ownerReference(rs, 'apps/v1', 'ReplicaSet'),
          state: { kind: 'starting' },
        },
        health,
      );
    }
    if (pods.length > desired) {
      // Not-ready pods go first, then the youngest, as the real controller prefers.
      const victims = [...pods]
        .sort((a, b) => Number(podIsReady(a)) - Number(podIsReady(b)) || -creationOrder(a, b))
        .slice(0, pods.length - desired);
      for (const pod of victims) this.deletePod(pod);
    }
    const state = this.podStateFor(health);
    for (const pod of this.ownedPods(namespace, rs.metadata.uid)) this.applyPodState(pod, state, health);
    pods = this.ownedPods(namespace, rs.metadata.uid);
    const ready = pods.filter(podIsReady).length;
    const next = clone(rs);
    next.status = compact(
      {
        replicas: pods.length,
        fullyLabeledReplicas: pods.length,
        readyReplicas: ready,
        availableReplicas: ready,
        observedGeneration: rs.metadata.generation ?? 1,
      },
      ['replicas'],
    );
    return this.cluster.put(REPLICASETS, next);
  }

  private scaleReplicaSet(rs: ReplicaSet, replicas: number, desired: number, maxSurge: number): ReplicaSet {
    const next = clone(rs);
    next.spec.replicas = replicas;
    next.metadata.annotations = {
      ...(next.metadata.annotations ?? {}),
      [DESIRED_REPLICAS_ANNOTATION]: String(desired),
      [MAX_REPLICAS_ANNOTATION]: String(desired + maxSurge),
    };
    if ((rs.spec.replicas ?? 1) !== replicas) next.metadata.generation = (rs.metadata.generation ?? 1) + 1;
    this.cluster.put(REPLICASETS, next);
    return this.syncReplicaSet(rs.metadata.namespace ?? '', rs.metadata.name ?? '') ?? next;
  }

  private copiedAnnotations(dep: Deployment): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(dep.metadata.annotations ?? {})) if (!ANNOTATIONS_NOT_COPIED.has(k)) out[k] = v;
    return out;
  }

  private createReplicaSet(dep: Deployment, revision: number, desired: number, maxSurge: number): ReplicaSet {
    const ns = dep.metadata.namespace ?? '';
    let collision = 0;
    let hash = templateHash(dep.spec.template);
    while (this.cluster.find(REPLICASETS, ns, `${dep.metadata.name ?? ''}-${hash}`)) hash = templateHash(dep.spec.template, ++collision);
    const name = `${dep.metadata.name ?? ''}-${hash}`;
    const template = clone(dep.spec.template);
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash } };
    const rs: ReplicaSet = {
      metadata: {
        ...this.cluster.newMetadata(ns, name),
        generation: 1,
        labels: { ...(template.metadata.labels ?? {}) },
        annotations: {
          ...this.copiedAnnotations(dep),
          [REVISION_ANNOTATION]: String(revision),
          [DESIRED_REPLICAS_ANNOTATION]: String(desired),
          [MAX_REPLICAS_ANNOTATION]: String(desired + maxSurge),
        },
        ownerReferences: [ownerReference(dep, 'apps/v1', 'Deployment')],
      },
      spec: {
        replicas: 0,
        minReadySeconds: 0,
        selector: {
          ...clone(dep.spec.selector),
          matchLabels: { ...(dep.spec.selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash },
        },
        template,
      },
      status: { replicas: 0 },
    };
    const stored = this.cluster.put(REPLICASETS, rs);
    this.health.set(stored.metadata.uid ?? '', this.newHealth(this.behaviourFor(DEPLOYMENTS, dep, dep.spec.template)));
    return stored;
  }

  /** Keeps the new ReplicaSet's annotations in sync; re-activating an old one gives it the next revision. */
  private refreshNewReplicaSet(dep: Deployment, rs: ReplicaSet, maxOldRevision: number): ReplicaSet {
    const next = clone(rs);
    const annotations = { ...(next.metadata.annotations ?? {}), ...this.copiedAnnotations(dep) };
    const oldRevision = revisionOf(rs);
    const newRevision = maxOldRevision + 1;
    if (oldRevision < newRevision) {
      annotations[REVISION_ANNOTATION] = String(newRevision);
      if (oldRevision > 0) {
        const history = annotations[REVISION_HISTORY_ANNOTATION];
        annotations[REVISION_HISTORY_ANNOTATION] = history ? `${history},${oldRevision}` : String(oldRevision);
      }
      const uid = rs.metadata.uid ?? '';
      const prior = this.health.get(uid);
      const behaviour =
        this.forceReady > 0 ? READY : this.imageBehaviour(dep.spec.template) ?? prior ?? this.behaviourFor(DEPLOYMENTS, dep, dep.spec.template);
      this.health.set(uid, this.newHealth({ mode: behaviour.mode, options: behaviour.options }));
    }
    next.metadata.annotations = annotations;
    return this.cluster.put(REPLICASETS, next);
  }

  // -------------------------------------------------------------------------
  // Deployments

  syncDeployment(namespace: string, name: string): void {
    const dep = this.cluster.find<Deployment>(DEPLOYMENTS, namespace, name);
    if (!dep) return;
    const desired = dep.spec.replicas ?? 1;
    const strategy = dep.spec.strategy ?? {};
    const recreate = strategy.type === 'Recreate';
    let maxSurge = recreate ? 0 : parseIntOrPercent(strategy.rollingUpdate?.maxSurge, desired, true, '25%');
    let maxUnavailable = recreate ? desired : parseIntOrPercent(strategy.rollingUpdate?.maxUnavailable, desired, false, '25%');
    if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
    maxUnavailable = Math.min(maxUnavailable, desired);
    maxSurge = Math.max(0, maxSurge);

    const all = this.ownedReplicaSets(dep);
    let newRS = all.find((rs) => templatesEqual(rs.spec.template, dep.spec.template));
    const maxOldRevision = Math.max(0, ...all.filter((rs) => rs !== newRS).map(revisionOf));

    if (!dep.spec.paused) {
      newRS = newRS ? this.refreshNewReplicaSet(dep, newRS, maxOldRevision) : this.createReplicaSet(dep, maxOldRevision + 1, desired, maxSurge);
      if (recreate) this.rolloutRecreate(dep, newRS, desired);
      else this.rolloutRolling(dep, newRS, desired, maxSurge, maxUnavailable);
      this.cleanupOldReplicaSets(dep, newRS);
    }
    this.updateDeploymentStatus(namespace, name, maxUnavailable);
  }

  private oldReplicaSets(dep: Deployment, newRS: ReplicaSet): ReplicaSet[] {
    return this.ownedReplicaSets(dep)
      .filter((rs) => rs.metadata.name !== newRS.metadata.name)
      .sort(creationOrder);
  }

  private rolloutRecreate(dep: Deployment, newRS: ReplicaSet, desired: number): void {
    for (const old of this.oldReplicaSets(dep, newRS)) {
      if ((old.spec.replicas ?? 0) > 0) this.scaleReplicaSet(old, 0, desired, 0);
    }
    const fresh = this.cluster.find<ReplicaSet>(REPLICASETS, newRS.metadata.namespace, newRS.metadata.name ?? '');
    if (fresh && (fresh.spec.replicas ?? 0) !== desired) this.scaleReplicaSet(fresh, desired, desired, 0);
  }

  private rolloutRolling(dep: Deployment, initialNew: ReplicaSet, desired: number, maxSurge: number, maxUnavailable: number): void {
    const ns = dep.metadata.namespace ?? '';
    const newName = initialNew.metadata.name ?? '';
    const minAvailable = desired - maxUnavailable;
    const sumSpec = (list: ReplicaSet[]) => list.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0);
    const available = (rs: ReplicaSet) => rs.status?.availableReplicas ?? 0;

    for (let round = 0; round < 100; round++) {
      let changed = false;
      let newRS = this.cluster.find<ReplicaSet>(REPLICASETS, ns, newName);
      if (!newRS) return;

      // Scale the new ReplicaSet up within maxSurge (or down if the deployment shrank).
      const current = newRS.spec.replicas ?? 0;
      const total = sumSpec(this.ownedReplicaSets(dep));
      let target = current;
      if (current > desired) target = desired;
      else if (current < desired && total < desired + maxSurge) target = current + Math.min(desired + maxSurge - total, desired - current);
      if (target !== current) {
        newRS = this.scaleReplicaSet(newRS, target, desired, maxSurge);
        changed = true;
      }

      // Scale old ReplicaSets down while keeping minAvailable pods available.
      const olds = this.oldReplicaSets(dep, newRS);
      if (sumSpec(olds) > 0) {
        const allCount = sumSpec(this.ownedReplicaSets(dep));
        const newUnavailable = (newRS.spec.replicas ?? 0) - available(newRS);
        const maxScaledDown = allCount - minAvailable - newUnavailable;
        if (maxScaledDown > 0) {
          let cleaned = 0;
          for (const old of olds) {
            const unhealthy = (old.spec.replicas ?? 0) - available(old);
            if (unhealthy <= 0 || cleaned >= maxScaledDown) continue;
            const n = Math.min(maxScaledDown - cleaned, unhealthy);
            this.scaleReplicaSet(old, (old.spec.replicas ?? 0) - n, desired, maxSurge);
            cleaned += n;
            changed = true;
          }
          const freshAll = this.ownedReplicaSets(dep);
          const availableAll = freshAll.reduce((n, rs) => n + available(rs), 0);
          if (availableAll > minAvailable) {
            const toScaleDown = availableAll - minAvailable;
            let done = 0;
            for (const old of this.oldReplicaSets(dep, newRS)) {
              const replicas = old.spec.replicas ?? 0;
              if (replicas === 0 || done >= toScaleDown) continue;
              const n = Math.min(replicas, toScaleDown - done);
              this.scaleReplicaSet(old, replicas - n, desired, maxSurge);
              done += n;
              changed = true;
            }
          }
        }
      }
      if (!changed) return;
    }
  }

  private cleanupOldReplicaSets(dep: Deployment, newRS: ReplicaSet): void {
    const limit = dep.spec.revisionHistoryLimit ?? 10;
    const idle = this.oldReplicaSets(dep, newRS)
      .filter((rs) => (rs.spec.replicas ?? 0) === 0 && (rs.status?.replicas ?? 0) === 0)
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) {
      this.cluster.remove(REPLICASETS, rs.metadata.namespace, rs.metadata.name ?? '');
      this.health.delete(rs.metadata.uid ?? '');
    }
  }

  private updateDeploymentStatus(namespace: string, name: string, maxUnavailable: number): void {
    const dep = this.cluster.find<Deployment>(DEPLOYMENTS, namespace, name);
    if (!dep) return;
    const desired = dep.spec.replicas ?? 1;
    const all = this.ownedReplicaSets(dep);
    const newRS = all.find((rs) => templatesEqual(rs.spec.template, dep.spec.template));
    const olds = all.filter((rs) => rs !== newRS);
    const sum = (pick: (rs: ReplicaSet) => number | undefined) => all.reduce((n, rs) => n + (pick(rs) ?? 0), 0);
    const replicas = sum((rs) => rs.status?.replicas);
    const updated = newRS?.status?.replicas ?? 0;
    const ready = sum((rs) => rs.status?.readyReplicas);
    const availableCount = sum((rs) => rs.status?.availableReplicas);
    const unavailable = Math.max(0, sum((rs) => rs.spec.replicas) - availableCount);
    const now = rfc3339(this.cluster.now());
    const health = newRS ? this.health.get(newRS.metadata.uid ?? '') : undefined;

    const complete =
      !!newRS &&
      (newRS.spec.replicas ?? 0) === desired &&
      updated === desired &&
      replicas === desired &&
      availableCount === desired &&
      olds.every((rs) => (rs.status?.replicas ?? 0) === 0);
    if (complete && health) health.complete = true;

    const rsName = newRS?.metadata.name ?? '';
    let progressing: Condition;
    if (dep.spec.paused) {
      progressing = { type: 'Progressing', status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' };
    } else if (complete) {
      progressing = { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.` };
    } else if (health?.deadlineExceeded) {
      progressing = { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${rsName}" has timed out progressing.` };
    } else {
      progressing = { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.` };
    }
    const availableCondition: Condition =
      availableCount >= desired - maxUnavailable
        ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
        : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' };
    const conditions = [setCondition(dep.status?.conditions, availableCondition, now), setCondition(dep.status?.conditions, progressing, now)];

    const next = clone(dep);
    next.status = compact({
      observedGeneration: dep.metadata.generation ?? 1,
      replicas,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: availableCount,
      unavailableReplicas: unavailable,
      conditions,
    });
    if (newRS) {
      next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [REVISION_ANNOTATION]: String(revisionOf(newRS)) };
    }
    this.cluster.put(DEPLOYMENTS, next);
  }

  // -------------------------------------------------------------------------
  // StatefulSets

  private stsRevision(sts: StatefulSet): string {
    return `${sts.metadata.name ?? ''}-${templateHash(sts.spec.template)}`;
  }

  syncStatefulSet(namespace: string, name: string): void {
    const sts = this.cluster.find<StatefulSet>(STATEFULSETS, namespace, name);
    if (!sts) return;
    const uid = sts.metadata.uid ?? '';
    const updateRevision = this.stsRevision(sts);
    this.stsTemplates.set(`${uid}/${updateRevision}`, clone(sts.spec.template));
    const updateKey = `${uid}/${updateRevision}`;
    if (!this.health.has(updateKey)) this.health.set(updateKey, this.newHealth(this.behaviourFor(STATEFULSETS, sts, sts.spec.template)));
    const currentRevision = sts.status?.currentRevision || updateRevision;
    const desired = sts.spec.replicas ?? 1;
    const partition = sts.spec.updateStrategy?.type === 'OnDelete' ? desired : sts.spec.updateStrategy?.rollingUpdate?.partition ?? 0;
    const revisionOfPod = (pod: Pod) => pod.metadata.labels?.['controller-revision-hash'] ?? '';
    const ordinalOf = (pod: Pod) => Number(pod.metadata.labels?.['apps.kubernetes.io/pod-index'] ?? '-1');

    const createAt = (ordinal: number, revision: string): Pod => {
      const podName = `${name}-${ordinal}`;
      const template = this.stsTemplates.get(`${uid}/${revision}`) ?? sts.spec.template;
      return this.newPod(
        {
          namespace,
          name: podName,
          template,
          owner: ownerReference(sts, 'apps/v1', 'StatefulSet'),
          state: { kind: 'starting' },
          extraLabels: {
            'controller-revision-hash': revision,
            'statefulset.kubernetes.io/pod-name': podName,
            'apps.kubernetes.io/pod-index': String(ordinal),
          },
          hostname: podName,
        },
        this.health.get(`${uid}/${revision}`),
      );
    };

    let pods = this.ownedPods(namespace, uid);
    for (const pod of pods) if (ordinalOf(pod) >= desired) this.deletePod(pod);
    for (let ordinal = 0; ordinal < desired; ordinal++) {
      if (!pods.some((p) => ordinalOf(p) === ordinal)) createAt(ordinal, ordinal < partition ? currentRevision : updateRevision);
    }
    // Rolling update: highest ordinal first, one pod at a time, each must become ready.
    for (let ordinal = desired - 1; ordinal >= partition; ordinal--) {
      pods = this.ownedPods(namespace, uid);
      const pod = pods.find((p) => ordinalOf(p) === ordinal);
      if (!pod) continue;
      if (revisionOfPod(pod) === updateRevision) {
        if (!podIsReady(pod)) break;
        continue;
      }
      if (pods.some((p) => ordinalOf(p) > ordinal && !podIsReady(p))) break;
      this.deletePod(pod);
      if (!podIsReady(createAt(ordinal, updateRevision))) break;
    }
    for (const pod of this.ownedPods(namespace, uid)) {
      const h = this.health.get(`${uid}/${revisionOfPod(pod)}`);
      this.applyPodState(pod, this.podStateFor(h), h);
    }

    pods = this.ownedPods(namespace, uid);
    const ready = pods.filter(podIsReady).length;
    const updated = pods.filter((p) => revisionOfPod(p) === updateRevision).length;
    const done = updated === desired && ready === desired;
    const health = this.health.get(updateKey);
    if (done && health) health.complete = true;
    const next = clone(sts);
    next.status = {
      ...compact(
        {
          observedGeneration: sts.metadata.generation ?? 1,
          replicas: pods.length,
          readyReplicas: ready,
          currentReplicas: done ? updated : pods.filter((p) => revisionOfPod(p) === currentRevision).length,
          updatedReplicas: updated,
          availableReplicas: ready,
        },
        ['replicas', 'availableReplicas'],
      ),
      currentRevision: done ? updateRevision : currentRevision,
      updateRevision,
      collisionCount: 0,
    };
    this.cluster.put(STATEFULSETS, next);
  }
}
