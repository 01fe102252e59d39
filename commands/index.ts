/** Every runbook area's module; the verb table is built from these (plus the bot's own). */
import type { CommandModule } from '../src/core/types.ts';
import { buildRegistry, type Registry } from '../src/core/registry.ts';
import { createCoreModule } from './core/index.ts';
import { iamModule } from './iam/index.ts';
import { rotateModule } from './rotate/index.ts';
import { tfModule } from './tf/index.ts';
import { createIncidentModule } from './incident/index.ts';
import { backupModule } from './backup/index.ts';
import { deployModule } from './deploy/index.ts';
import { alertsModule } from './alerts/index.ts';
import { firingAlertsSection } from './alerts/home.ts';
import { terraformLocksSection } from './tf/status.ts';

/** Areas never import each other: the incident overview receives the other areas' sections here. */
export const incidentModule = createIncidentModule([firingAlertsSection, terraformLocksSection]);

export const areaModules: CommandModule[] = [iamModule, rotateModule, incidentModule, tfModule, backupModule, deployModule, alertsModule];

/** The whole verb table without a running bot (help listing, README table, manifest check). */
export function staticRegistry(): Registry {
  const registry: Registry = buildRegistry([
    createCoreModule({
      verbs: () => registry.verbs,
      recentJobs: async () => [],
      cancelJob: async () => 'not-running',
      jobRequester: async () => undefined,
      latestAudit: async () => [],
      breakGlassReviews: async () => [],
      permalink: async () => undefined,
    }),
    ...areaModules,
  ]);
  return registry;
}
