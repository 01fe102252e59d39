/**
 * Runbook Scenario 4, step 3 (`docker-compose restart db`): rollout restart of the database
 * workload, followed until ready, then `db check`.
 */
import ms from 'ms';
import type { JobDefinition } from '../src/core/types.ts';
import { UserFacingError } from '../src/core/types.ts';
import type { Part } from '../src/core/result.ts';
import { rolloutRestart, waitForRollout } from '../commands/shared/kube.ts';
import { checkDatabase, dbCheckParts, dbCheckSummary } from '../commands/incident/db.ts';
import { dbRestartPlan } from '../commands/incident/restart.ts';

export interface DbRestartData {
  /** The database workload's name, as the approver typed it. */
  workload: string;
}

export const dbRestartTiming = { pollMs: 2000 };

export const dbRestartJob: JobDefinition<DbRestartData> = {
  name: 'db-restart',
  title: (data) => `Restart of the database (${data.workload})`,
  cancellable: true,
  onFailureNextStep: 'Check the database pods and logs (`/autostack logs db --previous`) and the connection string (runbook Scenario 4, steps 1–2).',
  replan: (_data, run) => dbRestartPlan(run.clients.kube(), run.config),
  async process(run) {
    const namespace = run.config.kubernetes.namespace;
    const workload = run.config.database.workload;
    const kube = run.clients.kube();
    // The plan refuses workloads a restart cannot replace (OnDelete); it is checked again here.
    await dbRestartPlan(kube, run.config);
    const at = run.clients.clock.now();
    await run.step(`Restarting ${workload.kind} ${workload.name} (restartedAt ${at.toISOString()})…`);
    const { generation } = await rolloutRestart(kube, namespace, workload, at);
    await run.audit.record({ actor: run.requestedBy, action: 'db restart', args: { workload: `${workload.kind}/${workload.name}` }, result: 'restart requested', channel: run.channel });
    const rollout = await waitForRollout(kube, namespace, workload, {
      timeoutMs: ms(run.config.rollout.timeout as ms.StringValue),
      pollMs: dbRestartTiming.pollMs,
      signal: run.signal,
      minGeneration: generation,
      onProgress: (state) => run.step(`rollout: ${state.message}`),
    }).catch((error: unknown) => {
      if (run.signal.aborted) {
        throw new UserFacingError(`Cancelled while following the restart: ${workload.kind} ${workload.name} was restarted at ${at.toISOString()} and its pods keep being replaced by Kubernetes.`);
      }
      throw error;
    });
    if (!rollout.done) {
      throw new UserFacingError(
        `${workload.kind} ${workload.name} was restarted (pod template annotated at ${at.toISOString()}), but it is ${rollout.timedOut ? `not ready after ${run.config.rollout.timeout}` : 'not progressing'}: ${rollout.message} (${rollout.ready}/${rollout.desired} ready). The controller keeps replacing pods; nothing else was changed.`,
      );
    }
    await run.step(`Ready: ${rollout.message}. Checking the database…`);
    const check = await checkDatabase(run.config.database.url);
    const parts: Part[] = [{ kind: 'text', text: `✓ ${workload.kind} ${workload.name} restarted: ${rollout.ready}/${rollout.desired} ready.` }, ...dbCheckParts(check)];
    if (!check.ok) {
      throw new UserFacingError(`${workload.kind} ${workload.name} restarted and is ready, but the database check failed: ${dbCheckSummary(check)}`);
    }
    return { summary: `Database restarted and reachable. ${dbCheckSummary(check)}`, parts, visibility: 'channel' };
  },
};
