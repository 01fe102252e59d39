/**
 * Rolls a deployment back (platform API by ID, or the Kubernetes Deployment to a revision), follows
 * the rollout until ready or the configured timeout, then checks the backend's /health.
 *
 * "Rolled back" rests on what was observed: a rollout that started after the request (the
 * Deployment's generation passed the one read before) completed, and the live images are the
 * target revision's (for the platform API, whose target is not known here: not the ones live
 * before). A platform answer without such a rollout ends "Accepted, not finished".
 */
import ms from 'ms';
import type { JobDefinition, JobRun } from '../src/core/types.ts';
import { UserFacingError } from '../src/core/types.ts';
import type { Part } from '../src/core/result.ts';
import type { RolloutOutcome } from '../commands/shared/kube.ts';
import { containerImages, readDeployment, undoDeployment, waitForRollout } from '../commands/shared/kube.ts';
import { imageTag } from '../commands/shared/evidence.ts';
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

/** What the job saw before it changed anything: the generation a new rollout must pass, and the images then live. */
interface Before {
  generation: number;
  images: string[];
}

export const rollbackJob: JobDefinition<RollbackData> = {
  name: 'rollback',
  title,
  cancellable: true,
  onFailureNextStep: 'Investigate the root cause (runbook Scenario 1, step 4): `/autostack logs <app> --previous`, resource limits, external dependencies.',
  replan: (data, run) => rollbackPlan(data, run.config, () => run.clients.kube()),
  async process(run) {
    const data = run.data;
    const namespace = run.config.kubernetes.namespace;
    const fields: Array<readonly [string, string]> = [];
    const followed = data.follow.deployment;
    const live = await readDeployment(run.clients.kube(), namespace, followed);
    const before: Before = { generation: live.metadata?.generation ?? 0, images: containerImages(live.spec?.template) };
    /** Images the rollback must leave live; undefined when only "not the ones live before" is known (platform API). */
    let expected: string[] | undefined;
    let changed: string;
    let accepted: { status: number; detail: string } | undefined;
    if (data.target.kind === 'platform') {
      await run.step(`POST /api/deployments/${data.target.id}/rollback (reason: ${data.reason})`);
      const answer = await platformRollback(run.clients.http, run.config, data.target.id, data.reason, run.signal);
      accepted = answer;
      changed = `the platform accepted the rollback of deployment ${data.target.id} (${answer.status})`;
      await run.step(`Platform API answered ${answer.status}: ${answer.detail}`);
      fields.push(['Platform deployment', data.target.id], ['Platform answer', `${answer.status} ${answer.detail}`]);
      await run.audit.record({ actor: run.requestedBy, action: 'rollback platform deployment', args: { id: data.target.id, reason: data.reason }, result: `accepted ${answer.status}`, channel: run.channel });
    } else {
      const { deployment, toRevision } = data.target;
      await run.step(`Rolling Deployment ${deployment} back to ${toRevision ? `revision ${toRevision}` : 'the previous revision'}…`);
      const result = await undoDeployment(run.clients.kube(), namespace, deployment, {
        toRevision,
        changeCause: `rollback to revision ${toRevision ?? 'previous'} by ${run.requestedBy}: ${data.reason}`,
      });
      expected = result.toImages;
      if (result.alreadyCurrent) {
        changed = `Deployment ${deployment} already ran revision ${result.toRevision}; nothing was changed`;
        await run.step(`${changed}.`);
      } else {
        changed = `Deployment ${deployment} was patched from revision ${result.fromRevision ?? '?'} to the template of revision ${result.toRevision}`;
        before.generation = (result.generation ?? before.generation + 1) - 1;
        await run.step(`Patched: revision ${result.fromRevision ?? '?'} → ${result.toRevision} (${result.fromImages.join(', ')} → ${result.toImages.join(', ')})`);
        await run.audit.record({
          actor: run.requestedBy,
          action: 'rollback deployment',
          args: { deployment, from: result.fromRevision, to: result.toRevision, reason: data.reason },
          result: 'patched',
          channel: run.channel,
        });
      }
      fields.push(['Deployment', deployment], ['Revision', `${result.fromRevision ?? '?'} → ${result.toRevision}`], ['Images', result.toImages.map(imageTag).join(', ')]);
    }
    const unchanged = expected !== undefined && before.images.join() === expected.join();

    let rollout: RolloutOutcome;
    try {
      // A rollout that started after the request: the Deployment's generation must pass the one read before.
      rollout = await follow(run, followed, unchanged ? undefined : before.generation + 1);
    } catch (error) {
      if (run.signal.aborted) throw new UserFacingError(`Cancelled while following the rollout: ${changed}. Nothing was reverted; the rollout continues in Kubernetes.`);
      throw error;
    }
    const after = await readDeployment(run.clients.kube(), namespace, followed);
    const nowLive = containerImages(after.spec?.template);
    const liveText = nowLive.map(imageTag).join(', ');
    if (accepted && data.target.kind === 'platform' && (after.metadata?.generation ?? 0) <= before.generation) {
      throw new UserFacingError(
        `Accepted, not finished: ${changed} (${accepted.detail}), but in ${run.config.rollout.timeout} no rollout of Deployment ${followed} started: it still runs ${liveText} (generation ${before.generation}). Nothing is rolled back yet.`,
        `Look at the platform's deployment ${data.target.id} and \`/autostack status ${data.follow.app}\`; to roll the Deployment back directly: \`/autostack rollback ${data.follow.app}\`.`,
      );
    }
    if (!rollout.done) {
      const why = rollout.timedOut ? `not complete after ${run.config.rollout.timeout}` : 'cannot progress';
      throw new UserFacingError(
        `${changed}, but the rollout of ${followed} is ${why}: ${rollout.message} (${rollout.updated}/${rollout.desired} updated, ${rollout.available} available). Nothing was reverted.`,
        `See why the pods do not become ready: \`/autostack status ${data.follow.app}\` and \`/autostack logs ${data.follow.app} --previous\`.`,
      );
    }
    const wrongImage = expected ? nowLive.join() !== expected.join() : nowLive.join() === before.images.join();
    if (wrongImage) {
      const want = expected ? `the target revision's ${expected.map(imageTag).join(', ')}` : `not the ${before.images.map(imageTag).join(', ')} live before the request`;
      throw new UserFacingError(
        `${changed} and a rollout completed, but Deployment ${followed} runs ${liveText}, ${want}. It is not rolled back.`,
        `See what changed it: \`/autostack history ${data.follow.app}\`.`,
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
    const was = before.images.join() === nowLive.join() ? '' : ` (was ${before.images.map(imageTag).join(', ')})`;
    const evidence = `live image ${liveText}${was}, ${rollout.available}/${rollout.desired} ready, /health ${health.status}`;
    const parts: Part[] = [{ kind: 'text', text: `✓ ${changed}; checked: ${evidence}.` }, { kind: 'fields', fields }];
    return { summary: `Rolled back: ${evidence}`, parts, visibility: 'channel' };
  },
};
