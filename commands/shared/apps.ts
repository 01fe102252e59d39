/**
 * Which Kubernetes workload an app name on the command line means, and the name rules used by
 * `logs`, `history` and `rollback`.
 */
import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import type { Config } from '../../src/config.ts';
import type { Choice, CommandContext, KubeClients } from '../../src/core/types.ts';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import { ownValue } from '../../src/core/keys.ts';
import type { Workload } from './kube.ts';
import { isNotFound, kubeFailure, listDeploymentNames } from './kube.ts';

/** A Kubernetes object name (RFC 1123 label): what Deployments and apps are called. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A pod name (RFC 1123 subdomain). */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function appName(value: string | undefined, what = 'app'): string {
  if (!value) throw new UsageError(`give the ${what} name`);
  if (!DNS_LABEL.test(value)) throw new UsageError(`"${value.slice(0, 80)}" is not a valid ${what} name (lowercase letters, digits and "-", at most 63 characters)`);
  return value;
}

export function podName(value: string): string {
  if (!DNS_SUBDOMAIN.test(value)) throw new UsageError(`"${value.slice(0, 80)}" is not a valid pod name`);
  return value;
}

export interface AppTarget {
  app: string;
  /** Deployment (or StatefulSet, for `logs`) name. */
  workload: string;
  container?: string;
  /** The app names the configuration knows, for the message about a name that does not exist. */
  known: string[];
}

/** The app names the configuration knows: "backend" and each of deploy.apps. */
export function knownApps(config: Config): string[] {
  return [...new Set(['backend', ...Object.keys(config.deploy.apps)])].sort();
}

/** deploy.apps.<app> names the Deployment and container; "backend" is backend.deployment; otherwise the name itself. */
export function resolveApp(config: Config, app: string): AppTarget {
  const known = knownApps(config);
  const declared = ownValue(config.deploy.apps, app);
  if (declared) return { app, workload: declared.deployment, container: declared.container, known };
  if (app === 'backend') return { app, workload: config.backend.deployment, known };
  return { app, workload: app, known };
}

/** The apps to pick from: each Deployment in the namespace, by the app name deploy.apps gives it (or its own). */
export async function appChoices(ctx: CommandContext): Promise<Choice[]> {
  const appOf = new Map(knownApps(ctx.config).map((app) => [resolveApp(ctx.config, app).workload, app]));
  const deployments = await listDeploymentNames(ctx.clients.kube(), ctx.config.kubernetes.namespace);
  return deployments.map((name) => {
    const app = appOf.get(name) ?? name;
    return { label: app === name ? app : `${app} (Deployment ${name})`, value: app };
  });
}

/** What to say about an app whose workload does not exist: which names the configuration knows. */
export function unknownAppHint(target: Pick<AppTarget, 'known'>, namespace: string): string {
  return `Known apps: ${target.known.join(', ')} (deploy.apps in the configuration); any other Deployment in ${namespace} works by its name.`;
}

/** Reads the Deployment of that name, or else a StatefulSet (the database), for commands that accept either. */
export async function readAppWorkload(kube: KubeClients, namespace: string, target: Pick<AppTarget, 'workload' | 'known'>): Promise<{ workload: Workload; object: V1Deployment | V1StatefulSet }> {
  const name = target.workload;
  try {
    return { workload: { kind: 'Deployment', name }, object: await kube.apps.readNamespacedDeployment({ name, namespace }) };
  } catch (error) {
    if (!isNotFound(error)) throw kubeFailure(`reading Deployment ${name}`, error);
  }
  try {
    return { workload: { kind: 'StatefulSet', name }, object: await kube.apps.readNamespacedStatefulSet({ name, namespace }) };
  } catch (error) {
    if (!isNotFound(error)) throw kubeFailure(`reading StatefulSet ${name}`, error);
  }
  throw new UserFacingError(`No Deployment or StatefulSet named ${name} in namespace ${namespace}.`, unknownAppHint(target, namespace));
}
