/**
 * The guarded Terraform state operations: force-unlock and restore. The runtime inspects and
 * plans when asked, at the approval and right before run; `run` acts only on what was inspected
 * then (the lock IDs and versions named in the approved plan).
 */
import type { Operation } from '../../src/core/types.ts';
import { reply, table } from '../../src/core/result.ts';
import { tfClients } from './clients.ts';
import { lockCreated } from './lockinfo.ts';
import { formatDuration } from '../../src/core/durations.ts';
import { describeWhere } from './locks.ts';
import { describeSummary, inspectRestore, performRestore, restoreCommand, restorePlan } from './restore.ts';
import type { RestoreParams, RestoreSnapshot } from './restore.ts';
import { s3Uri, stateFor } from './states.ts';
import { inspectUnlockPlan, performUnlock, unlockPlanFor } from './unlock.ts';
import type { UnlockInspection, UnlockParams } from './unlock.ts';

export const unlockOperation: Operation<UnlockParams, UnlockInspection> = {
  title: (params) => `Force-unlock Terraform state "${params.state}"`,
  onFailureNextStep: 'Check the state lock with `/autostack tf lock`; the thread says what was removed, if anything.',

  async inspect(params, ctx) {
    const clients = await tfClients(ctx.clients, ctx.actor.id);
    return inspectUnlockPlan(clients, stateFor(ctx.config, params.state));
  },
  plan: (params, seen, config) => unlockPlanFor(stateFor(config, params.state), seen, config, new Date(params.requestedAt)),
  started: (params) => reply(`Removing the lock on Terraform state "${params.state}"; the result is in the job's thread.`),

  /** Deletes exactly the locks the approved plan names; a lock replaced in between is reported and left alone. */
  async run(params, seen, run) {
    const state = stateFor(run.config, params.state);
    const clients = await tfClients(run.clients, run.requestedBy);
    const now = () => run.clients.clock.now();
    const removed = await performUnlock(clients, state, seen.locks, { now, step: (text) => run.step(text) });

    const first = removed[0]!;
    const created = lockCreated(first.info);
    await run.audit.record({
      actor: run.requestedBy,
      action: 'tf unlock',
      args: { state: state.name, lockId: first.info?.ID ?? null, who: first.info?.Who ?? null },
      result: 'removed',
      channel: run.channel,
      detail: removed.map((l) => describeWhere(l)).join('; '),
    });
    const rows = removed.map((l) => [l.info?.ID ?? '(unreadable)', l.info?.Who ?? '', l.info?.Operation ?? '', l.info?.Created ?? '', describeWhere(l)]);
    return reply(
      `Removed the lock ${first.info?.ID ?? '(unreadable)'} from Terraform state "${state.name}"${created ? ` (it was ${formatDuration(now().getTime() - created.getTime())} old)` : ''}.`,
      [
        { kind: 'text', text: `:unlock: Removed the lock on Terraform state *${state.name}*; the next Terraform run can take it.` },
        table(['lock ID', 'who', 'operation', 'created', 'where'], rows),
        ...(state.lockTable ? [{ kind: 'context' as const, text: `Terraform's checksum item "${state.digestId}" was not touched.` }] : []),
      ],
      'channel',
    );
  },
};

export const restoreOperation: Operation<RestoreParams, { snapshot: RestoreSnapshot; region: string }> = {
  title: (params) => `Restore Terraform state "${params.state}" to version ${params.versionId}`,
  onFailureNextStep: 'The thread says what state was left. Check `/autostack tf lock` and `/autostack tf versions` before running Terraform.',

  async inspect(params, ctx) {
    const clients = await tfClients(ctx.clients, ctx.actor.id);
    return { snapshot: await inspectRestore(clients, stateFor(ctx.config, params.state), params, ctx.clients.clock.now()), region: clients.region };
  },
  plan: (params, seen, config) => restorePlan(stateFor(config, params.state), seen.snapshot, seen.region),
  started: (params) => reply(`Restoring Terraform state "${params.state}" to version ${params.versionId}; progress and the undo command are in the job's thread.`),

  /** Re-checks the current version once it holds the lock (see restore.ts). */
  async run(params, { snapshot }, run) {
    const state = stateFor(run.config, params.state);
    const clients = await tfClients(run.clients, run.requestedBy);
    const now = () => run.clients.clock.now();
    const result = await performRestore(clients, state, snapshot, { requestedBy: run.requestedBy, now, step: (text) => run.step(text) });

    const undo = result.previousVersionId
      ? restoreCommand(state, result.previousVersionId, snapshot.lineageChanged)
      : `aws s3api delete-object --bucket ${state.bucket} --key ${state.key} --version-id ${result.newVersionId}`;
    await run.audit.record({
      actor: run.requestedBy,
      action: 'tf restore',
      args: { state: state.name, versionId: snapshot.target.versionId, previousVersionId: result.previousVersionId ?? null, newVersionId: result.newVersionId },
      result: 'restored',
      channel: run.channel,
      detail: `${s3Uri(state.bucket, state.key)} serial ${snapshot.restored.serial} md5 ${snapshot.restored.md5}`,
    });
    return reply(
      `Restored Terraform state "${state.name}" to version ${snapshot.target.versionId}: the new current version is ${result.newVersionId}. Undo: ${undo}`,
      [
        { kind: 'text', text: `:white_check_mark: Terraform state *${state.name}* is now version ${snapshot.target.versionId}'s content (was ${describeSummary(snapshot.target.summary)}), written with serial ${snapshot.restored.serial}, above every serial in the object's history (highest ${snapshot.restored.highestSerial}).` },
        {
          kind: 'fields',
          fields: [
            ['New current version', result.newVersionId],
            ['Replaced version', result.previousVersionId ? `${result.previousVersionId} (${describeSummary(snapshot.current?.summary)})` : 'none (the state was deleted)'],
            ['Checksum', result.digestUpdated ? `${state.digestId} = ${snapshot.restored.md5}` : `MD5 ${snapshot.restored.md5} (no checksum item: S3 lock file only)`],
            ['Object', s3Uri(state.bucket, state.key)],
          ],
        },
        { kind: 'text', text: 'Undo (makes the replaced version current again):' },
        { kind: 'code', text: undo },
      ],
      'channel',
    );
  },
};
