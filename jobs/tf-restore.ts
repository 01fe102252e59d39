/**
 * Makes an earlier version of a Terraform state current again (see commands/tf/restore.ts for the
 * how and why). `replan` re-reads the current and chosen versions and the lock, so the runtime
 * stops the job when the state changed since the approval; what it read is kept for `process`
 * (same run), which re-checks the current version once it holds the lock.
 */
import type { JobDefinition, JobRun } from '../src/core/types.ts';
import { reply } from '../src/core/result.ts';
import { tfClients } from '../commands/tf/clients.ts';
import { describeSummary, inspectRestore, performRestore, restoreCommand, restorePlan } from '../commands/tf/restore.ts';
import type { RestoreParams, RestoreSnapshot } from '../commands/tf/restore.ts';
import { s3Uri, stateFor } from '../commands/tf/states.ts';

export const TF_RESTORE_JOB = 'tf-restore';

const approved = new WeakMap<object, RestoreSnapshot>();

export const tfRestoreJob: JobDefinition<RestoreParams> = {
  name: TF_RESTORE_JOB,
  title: (data) => `Restore Terraform state "${data.state}" to version ${data.versionId}`,
  onFailureNextStep: 'The thread says what state was left. Check `/autostack tf lock` and `/autostack tf versions` before running Terraform.',

  async replan(data, run) {
    const state = stateFor(run.config, data.state);
    const clients = await tfClients(run.clients, run.requestedBy);
    const snapshot = await inspectRestore(clients, state, data, run.clients.clock.now());
    approved.set(run, snapshot);
    return restorePlan(state, snapshot, clients.region);
  },

  async process(run: JobRun<RestoreParams>) {
    const state = stateFor(run.config, run.data.state);
    const clients = await tfClients(run.clients, run.requestedBy);
    const now = () => run.clients.clock.now();
    const snapshot = approved.get(run) ?? (await inspectRestore(clients, state, run.data, now()));
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
