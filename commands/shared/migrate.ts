/**
 * `db migrate`: runbook "Scenario 4, step 4" (`docker-compose exec backend alembic upgrade head`).
 * In Kubernetes: a one-off Job from the backend Deployment's current image, with the configured
 * command and the backend's environment (its Secret through envFrom).
 *
 * What is left behind: nothing. Once the Job succeeded or failed (its log is attached to the
 * thread) it is deleted (propagationPolicy Background); should the bot stop before that, or the Job
 * still run at the timeout, the TTL controller removes it MIGRATION_TTL_SECONDS after it finished.
 */
import type { V1Container, V1Deployment, V1Job } from '@kubernetes/client-node';
import type { Config } from '../../src/config.ts';
import type { KubeClients, Plan } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { kubeFailure, readDeployment } from './kube.ts';
import type { JobOutcome } from './kube-jobs.ts';

export const MIGRATION_LABEL = 'autostack.io/task';
export const MIGRATION_LABEL_VALUE = 'db-migrate';
export const MIGRATION_TTL_SECONDS = 3600;
export const MIGRATION_NAME_PREFIX = 'autostack-migrate-';

export interface MigrationSource {
  deployment: string;
  container: string;
  image: string;
  command: string[];
  secret: string;
  serviceAccountName?: string;
  imagePullSecrets: string[];
}

/** The backend container: deploy.apps.backend.container, else one named like the Deployment, else the first. */
function backendContainer(config: Config, deployment: V1Deployment): V1Container {
  const containers = deployment.spec?.template?.spec?.containers ?? [];
  const wanted = config.deploy.apps.backend?.container;
  const name = deployment.metadata?.name;
  const container = (wanted && containers.find((c) => c.name === wanted)) || containers.find((c) => c.name === name) || containers[0];
  if (!container) throw new UserFacingError(`Deployment ${name} has no containers.`);
  if (wanted && container.name !== wanted) throw new UserFacingError(`Deployment ${name} has no container ${wanted} (deploy.apps.backend.container).`);
  return container;
}

export async function migrationSource(kube: KubeClients, config: Config): Promise<MigrationSource> {
  const deployment = await readDeployment(kube, config.kubernetes.namespace, config.backend.deployment);
  const container = backendContainer(config, deployment);
  if (!container.image) throw new UserFacingError(`Container ${container.name} of Deployment ${config.backend.deployment} has no image.`);
  const pod = deployment.spec?.template?.spec;
  return {
    deployment: config.backend.deployment,
    container: container.name,
    image: container.image,
    command: [...config.database.migrateCommand],
    secret: config.backend.secret,
    serviceAccountName: pod?.serviceAccountName,
    imagePullSecrets: (pod?.imagePullSecrets ?? []).map((s) => s.name ?? '').filter(Boolean),
  };
}

/** What the migration left in the cluster, for the failure message: deleted, or why it is still there. */
export function migrationJobLeft(outcome: JobOutcome): string {
  if (outcome.deleted) return `Job ${outcome.name} was deleted (its log is attached)`;
  const ttl = `the TTL controller removes it ${MIGRATION_TTL_SECONDS / 3600}h after it finishes`;
  return outcome.timedOut ? `Job ${outcome.name} was left as it is (it may still be running); ${ttl}` : `Job ${outcome.name} could not be deleted; ${ttl}`;
}

export function migrationPlan(source: MigrationSource, config: Config): Plan {
  return {
    title: `Run database migrations: ${source.command.join(' ')}`,
    steps: [
      `create a Job in ${config.kubernetes.namespace} from the backend's current image ${source.image} running \`${source.command.join(' ')}\``,
      `environment: Secret ${source.secret} (envFrom), as the backend container has it`,
      'stream its logs into this thread and report the exit code',
      'attach its full log, then delete the Job (on success and on failure)',
    ],
    resources: [`deployment/${source.deployment} (image source)`, `secret/${source.secret}`, `database: ${config.database.workload.kind} ${config.database.workload.name}`],
    warnings: ['Migrations change the schema: make sure a recent database backup exists (runbook: Backup & Recovery).'],
  };
}

export function migrationJob(source: MigrationSource, options: { activeDeadlineSeconds: number; requestedBy: string }): V1Job {
  const labels = { [MIGRATION_LABEL]: MIGRATION_LABEL_VALUE, 'app.kubernetes.io/managed-by': 'autostack-chatops' };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      generateName: MIGRATION_NAME_PREFIX,
      labels,
      annotations: { 'autostack.io/requested-by': options.requestedBy, 'autostack.io/image-from': `deployment/${source.deployment}` },
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: options.activeDeadlineSeconds,
      ttlSecondsAfterFinished: MIGRATION_TTL_SECONDS,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: source.serviceAccountName,
          imagePullSecrets: source.imagePullSecrets.length ? source.imagePullSecrets.map((name) => ({ name })) : undefined,
          containers: [
            {
              name: 'migrate',
              image: source.image,
              command: source.command,
              envFrom: [{ secretRef: { name: source.secret } }],
            },
          ],
        },
      },
    },
  };
}

/** Refuses to start while another migration Job is still running. */
export async function ensureNoRunningMigration(kube: KubeClients, namespace: string): Promise<void> {
  let items: V1Job[];
  try {
    items = (await kube.batch.listNamespacedJob({ namespace, labelSelector: `${MIGRATION_LABEL}=${MIGRATION_LABEL_VALUE}` })).items;
  } catch (error) {
    throw kubeFailure('listing migration Jobs', error);
  }
  const running = items.filter((job) => {
    const done = (job.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    return !done && !job.metadata?.deletionTimestamp;
  });
  if (running.length) {
    throw new UserFacingError(`A migration Job is already running (${running.map((j) => j.metadata?.name).join(', ')}); nothing was started.`, 'Follow it with `/autostack logs` or wait for it to finish.');
  }
}

/** Alembic's INFO line for each step it runs: `Running upgrade <from> -> <to>, <message>` (from is empty at base). */
const UPGRADE_STEP = /Running upgrade\s+(\S*)\s+->\s+([^\s,]+)/;

/** The revisions a migration Job's log shows it moving through (alembic's `Running upgrade` lines). */
export class MigrationSteps {
  private from?: string;
  private to?: string;
  private steps = 0;

  /** Feeds one log line (every line, in order). */
  add(line: string): void {
    const match = UPGRADE_STEP.exec(line);
    if (!match) return;
    this.from ??= match[1] || 'base';
    this.to = match[2];
    this.steps++;
  }

  /** Whether the log shows at least one `Running upgrade` line. */
  get upgraded(): boolean {
    return this.steps > 0;
  }

  /** What the log says about revisions, in words that claim no more than the log shows. */
  describe(succeeded: boolean): string {
    if (!this.steps) return "its log shows no `Running upgrade` line (nothing to upgrade, or the command does not log alembic's INFO lines)";
    const count = `${this.steps} step${this.steps === 1 ? '' : 's'}`;
    return succeeded ? `${this.from} → ${this.to} (${count} in its log)` : `its log reached ${this.from} → ${this.to} (${count}) before it failed`;
  }
}
