/**
 * Small, general Kubernetes helpers shared by the incident, deploy and rotation areas: errors and
 * reads here; rollouts (kube-rollouts.ts), pod logs (kube-logs.ts) and one-off Jobs (kube-jobs.ts)
 * beside it. Each takes the
 * clients it uses (`KubeClients`) and a namespace; none keeps state. They follow what kubectl does
 * (rollout history, undo, restart, status) so the bot and an engineer with kubectl agree.
 */
import type { V1Deployment, V1LabelSelector, V1Pod, V1PodTemplateSpec, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeClients } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

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

/** Milliseconds of a Kubernetes timestamp (0 when absent). */
export function time(value: Date | string | undefined): number {
  if (!value) return 0;
  const t = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(t) ? 0 : t;
}

export function containerImages(template: V1PodTemplateSpec | undefined): string[] {
  return (template?.spec?.containers ?? []).map((c) => c.image ?? '(no image)');
}

