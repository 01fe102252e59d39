/**
 * Which workload a warning belongs to: a pod's controller, followed up through its ReplicaSet to
 * the Deployment (owner references), so every pod of a Deployment lands in the same thread.
 */
import type { V1OwnerReference } from '@kubernetes/client-node';
import type { KubeClients } from '../../../src/core/types.ts';
import { isNotFound, kubeFailure } from '../../shared/kube.ts';
import type { SeenObject } from './sightings.ts';

export interface WatchedWorkload {
  namespace: string;
  /** Deployment, StatefulSet, DaemonSet, Job, ReplicaSet (without a Deployment) or Pod (without a controller). */
  kind: string;
  name: string;
}

/** One workload's stable id: `namespace/Kind/name`. */
export function workloadId(workload: WatchedWorkload): string {
  return `${workload.namespace}/${workload.kind}/${workload.name}`;
}

const controllerOf = (owners: V1OwnerReference[] | undefined) => owners?.find((o) => o.controller) ?? owners?.[0];

/**
 * Resolves objects to workloads in one namespace. Pods and ReplicaSets it has resolved are
 * remembered (a ReplicaSet keeps its Deployment; a pod seen by the pod watch keeps its controller)
 * so an event about a pod resolves without reading it again, even once the pod is gone.
 */
export class WorkloadResolver {
  readonly #pods = new Map<string, WatchedWorkload>();
  readonly #replicaSets = new Map<string, WatchedWorkload>();

  constructor(
    private readonly kube: KubeClients,
    readonly namespace: string,
  ) {}

  async resolve(object: SeenObject): Promise<WatchedWorkload> {
    if (object.kind === 'Pod') return this.#pod(object.name, object.owners);
    if (object.kind === 'ReplicaSet') return this.#replicaSet(object.name);
    return { namespace: this.namespace, kind: object.kind, name: object.name };
  }

  /** A pod that no longer exists: its name is not worth keeping. */
  forgetPod(name: string): void {
    this.#pods.delete(name);
  }

  async #pod(name: string, known: V1OwnerReference[] | undefined): Promise<WatchedWorkload> {
    const remembered = known ? undefined : this.#pods.get(name);
    if (remembered) return remembered;
    let owners = known;
    if (!owners) {
      try {
        owners = (await this.kube.core.readNamespacedPod({ name, namespace: this.namespace })).metadata?.ownerReferences ?? [];
      } catch (error) {
        if (!isNotFound(error)) throw kubeFailure(`reading pod ${name}`, error);
        return { namespace: this.namespace, kind: 'Pod', name };
      }
    }
    const controller = controllerOf(owners);
    const workload = !controller
      ? { namespace: this.namespace, kind: 'Pod', name }
      : controller.kind === 'ReplicaSet'
        ? await this.#replicaSet(controller.name)
        : { namespace: this.namespace, kind: controller.kind, name: controller.name };
    this.#pods.set(name, workload);
    return workload;
  }

  async #replicaSet(name: string): Promise<WatchedWorkload> {
    const remembered = this.#replicaSets.get(name);
    if (remembered) return remembered;
    let owner: V1OwnerReference | undefined;
    try {
      owner = controllerOf((await this.kube.apps.readNamespacedReplicaSet({ name, namespace: this.namespace })).metadata?.ownerReferences);
    } catch (error) {
      if (!isNotFound(error)) throw kubeFailure(`reading ReplicaSet ${name}`, error);
    }
    const workload = owner?.kind === 'Deployment' ? { namespace: this.namespace, kind: 'Deployment', name: owner.name } : { namespace: this.namespace, kind: 'ReplicaSet', name };
    this.#replicaSets.set(name, workload);
    return workload;
  }
}
