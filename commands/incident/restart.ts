/**
 * `db restart`: runbook Scenario 4, step 3 (`docker-compose restart db`) as a Kubernetes rollout
 * restart of the configured database workload (StatefulSet or Deployment).
 */
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { Config } from '../../src/config.ts';
import type { KubeClients, Plan } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { readWorkload } from '../shared/kube.ts';
import { maskUrl } from '../shared/redact.ts';

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
