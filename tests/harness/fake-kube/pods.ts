/**
 * Pods as controllers create them, and the pod/container status a kubelet
 * would report for each simulated state (ready, starting, CrashLoopBackOff,
 * ImagePullBackOff, completed, failed).
 */
import { createHash } from 'node:crypto';
import type { Cluster } from './cluster.ts';
import { resourceInfo } from './resources.ts';
import type { Condition, ContainerStatus, KubeObject, OwnerReference, Pod, PodTemplateSpec } from './types.ts';
import { clone, randomHex, rfc3339 } from './util.ts';

export type PodState =
  /** Running, all containers ready. */
  | { kind: 'ready' }
  /** Running, containers started but not ready yet. */
  | { kind: 'starting' }
  /** Containers keep crashing: waiting CrashLoopBackOff, lastState.terminated. */
  | { kind: 'crashloop'; exitCode: number; restartCount: number }
  /** Image cannot be pulled: Pending, waiting ImagePullBackOff. */
  | { kind: 'imagepull' }
  /** Run to completion (restartPolicy Never/OnFailure). */
  | { kind: 'succeeded' }
  | { kind: 'failed'; exitCode: number };

export const PODS = resourceInfo('pods');

export const NODE_NAME = 'fake-node-1';
const HOST_IP = '10.0.0.10';

export function ownerReference(owner: KubeObject, apiVersion: string, kind: string): OwnerReference {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

function imageId(image: string): string {
  const repo = image.split('@')[0]?.replace(/:[^/:]*$/, '') ?? image;
  const digest = createHash('sha256').update(image).digest('hex');
  return `${repo.includes('/') ? repo : `docker.io/library/${repo}`}@sha256:${digest}`;
}

function podIp(): string {
  const bytes = Buffer.from(randomHex(2), 'hex');
  return `10.244.${bytes[0] ?? 0}.${Math.max(2, bytes[1] ?? 2)}`;
}

function condition(type: string, ok: boolean, now: string, reason?: string, message?: string): Condition {
  const c: Condition = { type, status: ok ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: now };
  if (!ok && reason) c.reason = reason;
  if (!ok && message) c.message = message;
  return c;
}

/** Computes pod status for a state, keeping container IDs and start times already reported. */
export function buildPodStatus(pod: Pod, state: PodState, now: Date): NonNullable<Pod['status']> {
  const ts = rfc3339(now);
  const started = pod.metadata.creationTimestamp ?? ts;
  const previous = pod.status?.containerStatuses ?? [];
  const containers = pod.spec.containers;
  const namespace = pod.metadata.namespace ?? '';
  const podName = pod.metadata.name ?? '';

  const statuses: ContainerStatus[] = containers.map((c) => {
    const prior = previous.find((p) => p.name === c.name);
    const containerID = prior?.containerID ?? `containerd://${randomHex(32)}`;
    const base = { name: c.name, image: c.image ?? '', imageID: imageId(c.image ?? '') };
    switch (state.kind) {
      case 'ready':
      case 'starting':
        return {
          ...base,
          containerID,
          ready: state.kind === 'ready',
          started: true,
          restartCount: prior?.restartCount ?? 0,
          state: { running: { startedAt: prior?.state.running?.startedAt ?? started } },
          lastState: prior?.lastState ?? {},
        };
      case 'crashloop':
        return {
          ...base,
          containerID,
          ready: false,
          started: false,
          restartCount: Math.max(state.restartCount, prior?.restartCount ?? 0),
          state: {
            waiting: {
              reason: 'CrashLoopBackOff',
              message: `back-off 5m0s restarting failed container=${c.name} pod=${podName}_${namespace}(${pod.metadata.uid ?? ''})`,
            },
          },
          lastState: {
            terminated: { exitCode: state.exitCode, reason: 'Error', startedAt: started, finishedAt: ts, containerID },
          },
        };
      case 'imagepull':
        return {
          ...base,
          imageID: '',
          ready: false,
          started: false,
          restartCount: 0,
          state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image ?? ''}"` } },
          lastState: {},
        };
      case 'succeeded':
      case 'failed': {
        const exitCode = state.kind === 'failed' ? state.exitCode : 0;
        return {
          ...base,
          containerID,
          ready: false,
          started: false,
          restartCount: prior?.restartCount ?? 0,
          state: {
            terminated: {
              exitCode,
              reason: exitCode === 0 ? 'Completed' : 'Error',
              startedAt: prior?.state.running?.startedAt ?? started,
              finishedAt: ts,
              containerID,
            },
          },
          lastState: prior?.lastState ?? {},
        };
      }
    }
  });

  const allReady = statuses.every((s) => s.ready);
  const notReady = statuses.filter((s) => !s.ready).map((s) => s.name);
  const notReadyMessage = `containers with unready status: [${notReady.join(' ')}]`;
  const terminal = state.kind === 'succeeded' || state.kind === 'failed';
  const readyReason = terminal ? 'PodCompleted' : 'ContainersNotReady';
  const conditions: Condition[] = [
    condition('PodReadyToStartContainers', true, ts),
    condition('Initialized', true, ts, terminal ? 'PodCompleted' : undefined),
    condition('Ready', allReady, ts, readyReason, terminal ? undefined : notReadyMessage),
    condition('ContainersReady', allReady, ts, readyReason, terminal ? undefined : notReadyMessage),
    condition('PodScheduled', true, ts),
  ];

  const phase =
    state.kind === 'imagepull' ? 'Pending' : state.kind === 'succeeded' ? 'Succeeded' : state.kind === 'failed' ? 'Failed' : 'Running';
  const podIP = (pod.status?.podIP as string | undefined) ?? podIp();
  return {
    phase,
    conditions,
    hostIP: HOST_IP,
    hostIPs: [{ ip: HOST_IP }],
    podIP,
    podIPs: [{ ip: podIP }],
    startTime: (pod.status?.startTime as string | undefined) ?? started,
    containerStatuses: statuses,
    qosClass: 'BestEffort',
  };
}

/** Creates a pod from a template, owned by `owner`, in the given state. */
export function createPod(
  cluster: Cluster,
  args: {
    namespace: string;
    name: string;
    template: PodTemplateSpec;
    owner: OwnerReference;
    state: PodState;
    generateName?: string;
    extraLabels?: Record<string, string>;
    hostname?: string;
  },
): Pod {
  const template = clone(args.template);
  const pod: Pod = {
    metadata: {
      ...cluster.newMetadata(args.namespace, args.name),
      labels: { ...(template.metadata?.labels ?? {}), ...(args.extraLabels ?? {}) },
      ownerReferences: [args.owner],
    },
    spec: {
      ...template.spec,
      nodeName: NODE_NAME,
      serviceAccountName: (template.spec.serviceAccountName as string | undefined) ?? 'default',
    },
  };
  if (args.generateName) pod.metadata.generateName = args.generateName;
  if (args.hostname) pod.spec.hostname = args.hostname;
  const annotations = template.metadata?.annotations;
  if (annotations && Object.keys(annotations).length > 0) pod.metadata.annotations = { ...annotations };
  pod.status = buildPodStatus(pod, args.state, cluster.now());
  return cluster.put(PODS, pod);
}

/** Rewrites a pod's status for a new state (no-op if nothing changes). */
export function setPodState(cluster: Cluster, pod: Pod, state: PodState): Pod {
  const next = clone(pod);
  next.status = buildPodStatus(pod, state, cluster.now());
  return cluster.put(PODS, next);
}

export function podIsReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export function ownedBy(obj: KubeObject, uid: string | undefined): boolean {
  return (obj.metadata.ownerReferences ?? []).some((r) => r.uid === uid && r.controller === true);
}
