/**
 * Rolls a deployment back (platform API by ID, or the Kubernetes Deployment to a revision), follows
 * the rollout until ready or the configured timeout, then checks the backend's /health.
 */
import ms from 'ms';
import type { JobDefinition, JobRun } from '../src/core/types.ts';
import { UserFacingError } from '../src/core/types.ts';
import type { Part } from '../src/core/result.ts';
import type { RolloutOutcome } from '../commands/shared/kube.ts';
import { undoDeployment, waitForRollout } from '../commands/shared/kube.ts';
import type { RollbackParams } from '../commands/incident/rollback.ts';
import { checkHealth, healthUrl, platformRollback, rollbackPlan } from '../commands/incident/rollback.ts';

export type RollbackData = RollbackParams;

/** Poll interval while following the rollout (tests make it short). */
export const rollbackTiming = { pollMs: 2000, healthAttempts: 3, healthDelayMs: 2000 };

function title(data: RollbackData): string {
  return data.target.kind === 'platform'
    ? `Rollback of platform deployment ${data.target.id}`
    : `Rollback of ${data.target.app}${data.target.toRevision ? ` to revision ${data.target.toRevision}` : ' to the previous revision'}`;
}

async function follow(run: JobRun<RollbackData>, deployment: string, minGeneration?: number): Promise<RolloutOutcome> {
  const timeoutMs = ms(run.config.rollout.timeout as ms.StringValue);
  await run.step(`Following the rollout of Deployment ${deployment} (timeout ${run.config.rollout.timeout})…`);
  return waitForRollout(run.clients.kube(), run.config.kubernetes.namespace, { kind: 'Deployment', name: deployment }, {
    timeoutMs,
    pollMs: rollbackTiming.pollMs,
    signal: run.signal,
    minGeneration,
    onProgress: (state) => run.step(`rollout: ${state.message}`),
  });
}

export const rollbackJob: JobDefinition<RollbackData> = {
  name: 'rollback',
  title,
  cancellable: true,
  onFailureNextStep: 'Investigate the root cause (runbook Scenario 1, step 4): `/autostack logs <app> --previous`, resource limits, external dependencies.',
  replan: (data, run) => rollbackPlan(data, run.config, () => run.clients.kube()),
  async process(run) {
    const data = run.data;
    const fields: Array<readonly [string, string]> = [];
    let minGeneration: number | undefined;
    let changed: string;
    if (data.target.kind === 'platform') {
      await run.step(`POST /api/deployments/${data.target.id}/rollback (reason: ${data.reason})`);
      const answer = await platformRollback(run.clients.http, run.config, data.target.id, data.reason, run.signal);
      changed = `the platform accepted the rollback of deployment ${data.target.id} (${answer.status})`;
      await run.step(`Platform API answered ${answer.status}: ${answer.detail}`);
      fields.push(['Platform deployment', data.target.id], ['Platform answer', `${answer.status} ${answer.detail}`]);
      await run.audit.record({ actor: run.requestedBy, action: 'rollback platform deployment', args: { id: data.target.id, reason: data.reason }, result: `accepted ${answer.status}`, channel: run.channel });
    } else {
      const { deployment, toRevision } = data.target;
      await run.step(`Rolling Deployment ${deployment} back to ${toRevision ? `revision ${toRevision}` : 'the previous revision'}…`);
      const result = await undoDeployment(run.clients.kube(), run.config.kubernetes.namespace, deployment, {
        toRevision,
        changeCause: `rollback to revision ${toRevision ?? 'previous'} by ${run.requestedBy}: ${data.reason}`,
      });
      minGeneration = result.generation;
      if (result.alreadyCurrent) {
        changed = `Deployment ${deployment} already ran revision ${result.toRevision}; nothing was changed`;
        await run.step(`${changed}.`);
      } else {
        changed = `Deployment ${deployment} was patched from revision ${result.fromRevision ?? '?'} to the template of revision ${result.toRevision}`;
        await run.step(`Patched: revision ${result.fromRevision ?? '?'} → ${result.toRevision} (${result.fromImages.join(', ')} → ${result.toImages.join(', ')})`);
        await run.audit.record({
          actor: run.requestedBy,
          action: 'rollback deployment',
          args: { deployment, from: result.fromRevision, to: result.toRevision, reason: data.reason },
          result: 'patched',
          channel: run.channel,
        });
      }
      fields.push(['Deployment', deployment], ['Revision', `${result.fromRevision ?? '?'} → ${result.toRevision}`], ['Images', result.toImages.join(', ')]);
    }

    let rollout: RolloutOutcome;
    try {
      rollout = await follow(run, data.follow.deployment, minGeneration);
    } catch (error) {
      if (run.signal.aborted) throw new UserFacingError(`Cancelled while following the rollout: ${changed}. Nothing was reverted; the rollout continues in Kubernetes.`);
      throw error;
    }
    if (!rollout.done) {
      const why = rollout.timedOut ? `not complete after ${run.config.rollout.timeout}` : 'cannot progress';
      throw new UserFacingError(
        `${changed}, but the rollout of ${data.follow.deployment} is ${why}: ${rollout.message} (${rollout.updated}/${rollout.desired} updated, ${rollout.available} available). Nothing was reverted.`,
        `See why the pods do not become ready: \`/autostack logs ${data.follow.app} --previous\` and \`/autostack history ${data.follow.app}\`.`,
      );
    }
    await run.step(`Rollout complete: ${rollout.message}`);
    fields.push(['Rollout', `${rollout.available}/${rollout.desired} replicas ready`]);

    const url = healthUrl(run.config);
    const health = await checkHealth(run.clients.http, url, { attempts: rollbackTiming.healthAttempts, delayMs: rollbackTiming.healthDelayMs, signal: run.signal });
    fields.push(['Health', `${health.ok ? '✓' : '✗'} ${health.status ?? ''} ${health.detail}`.replace(/\s+/g, ' ')]);
    if (!health.ok) {
      throw new UserFacingError(
        `${changed} and the rollout completed, but ${url} is not healthy: ${health.status ?? 'no answer'} ${health.detail}.`,
        'Check the backend logs (`/autostack logs backend`) and its dependencies (`/autostack db check`).',
      );
    }
    const parts: Part[] = [{ kind: 'text', text: `✓ ${changed}; the rollout completed and ${url} is healthy.` }, { kind: 'fields', fields }];
    return { summary: `Rolled back: ${changed}; healthy`, parts, visibility: 'channel' };
  },
};
