/**
 * `db restart` and `restart <app>`: the runbook's `docker-compose restart db` (Scenario 4, step 3)
 * and `docker-compose restart <service>` as a Kubernetes rollout restart, of the configured
 * database workload (StatefulSet or Deployment) or of an app's Deployment.
 */
import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import type { Config } from '../../src/config.ts';
import type { KubeClients, Plan } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { containerImages, readWorkload } from '../shared/kube.ts';
import { imageTag } from '../shared/evidence.ts';
import { maskUrl } from '../shared/redact.ts';
import { readAppWorkload, resolveApp } from '../shared/apps.ts';

export interface DbRestartInspection {
  replicas: number;
}

/** Reads the workload; refuses a StatefulSet whose pods a restart would not replace. */
export async function inspectDbRestart(kube: KubeClients, config: Config): Promise<DbRestartInspection> {
  const workload = config.database.workload;
  const object = await readWorkload(kube, config.kubernetes.namespace, workload);
  if (workload.kind === 'StatefulSet') {
    const strategy = (object as V1StatefulSet).spec?.updateStrategy?.type;
    if (strategy === 'OnDelete') {
      throw new UserFacingError(`StatefulSet ${workload.name} uses the OnDelete update strategy: a rollout restart would not replace its pods. Nothing was changed.`, 'Delete its pods one by one instead, or switch it to RollingUpdate.');
    }
  }
  return { replicas: object.spec?.replicas ?? 1 };
}

/** What the restart will do. */
export function dbRestartPlan({ replicas }: DbRestartInspection, config: Config): Plan {
  const namespace = config.kubernetes.namespace;
  const workload = config.database.workload;
  return {
    title: `Restart the database: ${workload.kind} ${workload.name} in ${namespace}`,
    steps: [
      `rollout restart ${workload.kind} ${workload.name} (${replicas} replica${replicas === 1 ? '' : 's'}): set the kubectl.kubernetes.io/restartedAt annotation on its pod template`,
      `follow the rollout until all replicas are ready (timeout ${config.rollout.timeout})`,
      `db check against ${config.database.url ? maskUrl(config.database.url) : '(database.url not configured)'}`,
    ],
    resources: [`${workload.kind.toLowerCase()}/${workload.name} in ${namespace}`],
    warnings: ['Every database connection drops while the pods restart: the backend answers 500 until it reconnects.'],
  };
}

export interface RestartParams {
  app: string;
}

export interface AppRestartInspection {
  deployment: string;
  replicas: number;
  /** The images live now, which the restart keeps (image tags only, as in the plan). */
  images: string[];
  /** The Recreate strategy stops every pod before starting new ones. */
  recreate: boolean;
}

/** Reads the app's Deployment: what a restart would replace. */
export async function inspectAppRestart(kube: KubeClients, config: Config, app: string): Promise<AppRestartInspection> {
  const target = resolveApp(config, app);
  const { workload, object } = await readAppWorkload(kube, config.kubernetes.namespace, target);
  if (workload.kind !== 'Deployment') {
    throw new UserFacingError(`${app} is the ${workload.kind} ${workload.name}: \`restart\` restarts Deployments. Nothing was changed.`, 'For the database, `/autostack db restart` (it needs an approval).');
  }
  const deployment = object as V1Deployment;
  return {
    deployment: workload.name,
    replicas: deployment.spec?.replicas ?? 1,
    images: containerImages(deployment.spec?.template).map(imageTag),
    recreate: deployment.spec?.strategy?.type === 'Recreate',
  };
}

/** What `restart <app>` will do. */
export function appRestartPlan(params: RestartParams, seen: AppRestartInspection, config: Config): Plan {
  const namespace = config.kubernetes.namespace;
  const replicas = `${seen.replicas} replica${seen.replicas === 1 ? '' : 's'}`;
  return {
    title: `Restart ${params.app}: Deployment ${seen.deployment} in ${namespace}`,
    steps: [
      `rollout restart Deployment ${seen.deployment} (${replicas}, ${seen.images.join(', ') || 'no image'}): annotate its pod template with kubectl.kubernetes.io/restartedAt`,
      `follow the new rollout until ${seen.replicas}/${seen.replicas} replicas are updated and available (timeout ${config.rollout.timeout})`,
    ],
    resources: [`deployment/${seen.deployment} in ${namespace}`],
    warnings: seen.recreate ? [`Deployment ${seen.deployment} uses the Recreate strategy: every pod stops before the new ones start, so ${params.app} is down until they are ready.`] : [],
  };
}
