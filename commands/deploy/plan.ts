/**
 * What a deploy will do, read from the cluster: the Deployment, the container, the image and
 * revision running now. The same function gives the plan shown for confirmation or approval and
 * the one the job recomputes, so an approval is bound to exactly what was shown.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import type { Config } from '../../src/config.ts';
import type { KubeClients, Plan } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { readDeployment } from '../shared/kube.ts';
import { rolloutHistory } from '../shared/kube-rollouts.ts';
import type { DeployParams } from './apps.ts';
import { appContainer, configuredApp, healthUrlFor, repositoryOf } from './apps.ts';

export interface DeployTarget {
  app: string;
  deployment: V1Deployment;
  deploymentName: string;
  container: string;
  containerIndex: number;
  /** The image the container runs now (recorded before anything changes). */
  fromImage: string;
  /** The live revision (ReplicaSet) now: where an automatic rollback goes. */
  fromRevision?: number;
  resourceVersion: string;
}

export async function inspectTarget(kube: KubeClients, config: Config, app: string): Promise<DeployTarget> {
  const declared = configuredApp(config, app);
  const namespace = config.kubernetes.namespace;
  const deployment = await readDeployment(kube, namespace, declared.deployment);
  const { index, container } = appContainer(deployment, declared);
  if (!container.image) throw new UserFacingError(`Container ${container.name} of Deployment ${declared.deployment} has no image.`);
  const history = await rolloutHistory(kube, namespace, deployment);
  return {
    app,
    deployment,
    deploymentName: declared.deployment,
    container: container.name,
    containerIndex: index,
    fromImage: container.image,
    fromRevision: history.live?.revision,
    resourceVersion: deployment.metadata?.resourceVersion ?? '',
  };
}

export function deployPlan(params: DeployParams, target: DeployTarget, config: Config): Plan {
  const declared = configuredApp(config, params.app);
  const namespace = config.kubernetes.namespace;
  const health = healthUrlFor(config, params.app);
  const revision = target.fromRevision !== undefined ? `revision ${target.fromRevision}` : 'the recorded image (no live revision found)';
  const steps: string[] = [`record the running image ${target.fromImage} (${target.fromRevision !== undefined ? `revision ${target.fromRevision}` : 'revision unknown'})`];
  if (declared.migrate) {
    steps.push(`run the database migrations first: a Job from ${params.image} running \`${config.database.migrateCommand.join(' ')}\` (as \`db migrate\`); if it fails, stop without touching the Deployment`);
  }
  steps.push(
    `set container ${target.container} of Deployment ${target.deploymentName} to ${params.image}, guarded by its resourceVersion, with change-cause "${params.reason}"`,
    `follow the rollout until all ${target.deployment.spec?.replicas ?? 1} replicas are ready (timeout ${config.rollout.timeout})`,
  );
  steps.push(health ? `GET ${health} must answer 2xx` : 'no health URL configured (deploy.apps.*.healthUrl): the rollout alone is checked');
  for (const smoke of declared.smoke) steps.push(`smoke check: GET ${smoke.url} must answer ${smoke.status}`);
  steps.push(`on any failure: roll back automatically to ${revision}, follow that rollout, say so in the thread and notify the incident channel`);
  const warnings: string[] = [];
  if (target.fromImage === params.image) warnings.push(`Deployment ${target.deploymentName} already runs ${params.image}: nothing will change; the checks run only.`);
  const repository = repositoryOf(target.fromImage);
  if (repository !== declared.image) warnings.push(`The running image comes from ${repository}, not the configured repository ${declared.image} (deploy.apps.${params.app}.image).`);
  if (declared.migrate) warnings.push('Migrations change the schema and are not rolled back by a deploy rollback: make sure a recent backup exists (`/autostack backup list`).');
  return {
    title: `Deploy ${params.app}: ${target.fromImage} → ${params.image}`,
    steps,
    resources: [`deployment/${target.deploymentName} in ${namespace}`, ...(declared.migrate ? [`a migration Job in ${namespace}`] : [])],
    warnings,
  };
}
