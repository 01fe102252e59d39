/**
 * Incident Response: scenario 1 (deployment failed: logs, history, rollback), scenario 2 (rate
 * limiting: commands/incident/ratelimit/), scenario 3 (OAuth callback failed: oauth check) and
 * scenario 4 (database connection lost: db check, db restart, db migrate); incident rooms
 * (`incident declare` and the rest: commands/incident/room/); Kubernetes warnings posted into a
 * channel, one thread per workload (commands/incident/warnings/).
 */
import type { CommandModule } from '../../src/core/types.ts';
import type { StatusSection } from '../shared/status.ts';
import { rateLimitActions, rateLimitVerbs } from './ratelimit/index.ts';
import { incidentVerbs } from './verbs.ts';
import { roomVerbs } from './room/index.ts';
import { statusAction } from './status.ts';
import { kubeWarningsTask } from './warnings/index.ts';

/** `overview`: the status sections of other areas that `status` with no app shows first. */
export function createIncidentModule(overview: StatusSection[]): CommandModule {
  return {
    area: 'incident',
    verbs: [...incidentVerbs(overview), ...rateLimitVerbs, ...roomVerbs(overview)],
    actions: [...rateLimitActions, statusAction],
    tasks: [kubeWarningsTask],
  };
}
