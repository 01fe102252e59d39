/**
 * "Rotate AWS IAM Role", in three phases of one job definition:
 *   create  (approved): create the next role as a copy, post its ARN and the backend.tf change,
 *           ask for "Terraform plan verified", schedule a reminder;
 *   remind  (24 h later): nudge in the thread if nobody has verified yet;
 *   delete  (after the button): check the new role still mirrors the old one, then delete the
 *           old role step by step; a failure puts back what was removed.
 * Rotation state lives in Redis under autostack:iam:rotation:<id> (commands/iam/state.ts).
 */
import type { JobDefinition, JobRun } from '../src/core/types.ts';
import { UserFacingError } from '../src/core/types.ts';
import type { Reply } from '../src/core/result.ts';
import { BACKEND_CHANGE_NOTE, backendChange, createRotatedRole, deleteRole, inspectRotation, rotationPlan, verifySuccessor } from '../commands/iam/rotate.ts';
import type { RotationInspection } from '../commands/iam/rotate.ts';
import { getRole } from '../commands/iam/role.ts';
import { iamState, newRotationId } from '../commands/iam/state.ts';
import type { RotationRecord } from '../commands/iam/state.ts';
import { IAM_ROTATE_JOB, REMINDER_DELAY_MS, VERIFIED_ACTION, resolveRotationRole } from '../commands/iam/rotation-flow.ts';
import type { IamRotateData, RotateParams } from '../commands/iam/rotation-flow.ts';

export { IAM_ROTATE_JOB };
export type { IamRotateData };

const inspected = new WeakMap<object, RotationInspection>();

async function inspect(run: JobRun<IamRotateData>, params: RotateParams): Promise<RotationInspection> {
  const role = await resolveRotationRole(run.clients.redis, run.config, params);
  return inspectRotation(run.clients.aws(run.requestedBy).iam, role);
}

async function create(run: JobRun<IamRotateData>, params: RotateParams): Promise<Reply> {
  const state = iamState(run.clients.redis, run.config);
  const iam = run.clients.aws(run.requestedBy).iam;
  const inspection = inspected.get(run) ?? (await inspect(run, params));
  const { old, newRole } = inspection;
  const id = newRotationId();
  if (!(await state.claimRole(old.name, id))) {
    const other = await state.activeRotationFor(old.name);
    throw new UserFacingError(`A rotation of ${old.name} is already in progress (rotation ${other ?? 'unknown'}); nothing was changed.`, 'Finish it (press "Terraform plan verified" in its thread) first.');
  }
  let created;
  try {
    created = await createRotatedRole(iam, inspection, (text) => run.step(text));
  } catch (error) {
    await state.releaseRole(old.name, id);
    throw error;
  }
  const record: RotationRecord = {
    id,
    oldRole: old.name,
    oldArn: old.arn,
    newRole,
    newArn: created.arn,
    requestedBy: run.requestedBy,
    channel: run.channel,
    ...(run.threadTs ? { threadTs: run.threadTs } : {}),
    createdAt: run.clients.clock.now().toISOString(),
    inline: created.inline,
    managed: created.managed,
  };
  await state.saveRotation(record, 'awaiting-verification');
  await run.audit.record({
    actor: run.requestedBy,
    action: 'rotate aws-role',
    args: { role: old.name, newRole, rotation: id },
    result: 'new role created',
    channel: run.channel,
    detail: `${created.arn}: ${created.inline.length} inline, ${created.managed.length} managed policies copied`,
  });
  await run.ask(
    [
      `*${newRole}* is ready. Switch Terraform to it:`,
      '```',
      created.arn,
      '```',
      'Change in `backend.tf`:',
      '```',
      backendChange(old.arn, created.arn),
      '```',
      BACKEND_CHANGE_NOTE,
      `When \`terraform plan\` succeeds with ${newRole}, press the button: the bot then deletes ${old.name}. <@${run.requestedBy}> or an approver may press it.`,
    ].join('\n'),
    [
      {
        label: 'Terraform plan verified',
        action: VERIFIED_ACTION,
        value: id,
        style: 'primary',
        confirm: {
          title: `Delete ${old.name}?`,
          text: `Terraform plan worked with ${newRole}. The old role ${old.name} is deleted now (instance profiles, inline and managed policies, then the role).`,
          confirm: 'Delete old role',
          deny: 'Not yet',
        },
      },
    ],
  );
  await run.jobs.start<IamRotateData>(IAM_ROTATE_JOB, { phase: 'remind', rotationId: id }, { channel: '', requestedBy: run.requestedBy, delayMs: REMINDER_DELAY_MS, jobId: `iam-rotate-remind-${id}` });
  return {
    summary: `${newRole} created as a copy of ${old.name}; waiting for "Terraform plan verified"`,
    parts: [
      { kind: 'text', text: `:hourglass_flowing_sand: ${newRole} created as a copy of ${old.name}. Waiting for "Terraform plan verified" (a reminder follows after 24 h).` },
      { kind: 'code', text: created.arn },
    ],
    visibility: 'channel',
  };
}

async function remove(run: JobRun<IamRotateData>, id: string): Promise<Reply> {
  const state = iamState(run.clients.redis, run.config);
  const rotation = await state.loadRotation(id);
  if (!rotation) throw new UserFacingError(`Rotation ${id} is unknown (or finished more than 90 days ago).`);
  if (rotation.status !== 'deleting') throw new UserFacingError(`Rotation ${id} is ${rotation.status}, not waiting for deletion; nothing was changed.`);
  const iam = run.clients.aws(run.requestedBy).iam;
  const fail = async (message: string, hint?: string): Promise<never> => {
    await state.transition(id, ['deleting'], 'delete-failed', { detail: message });
    throw new UserFacingError(message, hint ?? 'Fix the cause, then press "Terraform plan verified" again to retry.');
  };
  if (run.config.aws.assumeRoleArn === rotation.oldArn) {
    await fail(`The bot itself still assumes ${rotation.oldRole} (aws.assumeRoleArn); deleting it would cut the bot off. Nothing was changed.`, `Set aws.assumeRoleArn to ${rotation.newArn}, restart the bot, then press "Terraform plan verified" again.`);
  }
  const oldRole = await getRole(iam, rotation.oldRole);
  if (!oldRole) {
    await run.step(`${rotation.oldRole} no longer exists: nothing to delete.`);
  } else {
    await run.step(`Checking that ${rotation.newRole} still has every policy of ${rotation.oldRole}…`);
    const differences = await verifySuccessor(iam, rotation.oldRole, rotation.newRole);
    if (differences.length) {
      await fail(`Not deleting ${rotation.oldRole}: ${rotation.newRole} no longer mirrors it (${differences.join('; ')}). ${rotation.oldRole} is intact.`);
    }
    await run.step(`:white_check_mark: ${rotation.newRole} has the same policies; deleting ${rotation.oldRole}`);
    try {
      await deleteRole(iam, rotation.oldRole, (text) => run.step(text));
    } catch (error) {
      const message = (error as Error).message;
      await state.transition(id, ['deleting'], 'delete-failed', { detail: message });
      await run.audit.record({ actor: run.requestedBy, action: 'rotate aws-role', args: { role: rotation.oldRole, rotation: id }, result: 'delete failed', channel: run.channel, detail: message });
      throw error instanceof UserFacingError ? new UserFacingError(error.message, error.hint ?? 'Fix the cause, then press "Terraform plan verified" again to retry.') : error;
    }
  }
  await state.transition(id, ['deleting'], 'done', { detail: `${rotation.oldRole} deleted` });
  await state.setCurrentRoleName(rotation.newRole);
  await state.releaseRole(rotation.oldRole, id);
  await run.audit.record({ actor: run.requestedBy, action: 'rotate aws-role', args: { role: rotation.oldRole, newRole: rotation.newRole, rotation: id }, result: 'old role deleted', channel: run.channel, detail: rotation.oldArn });
  return {
    summary: `Rotation done: ${rotation.oldRole} deleted, ${rotation.newRole} is the Terraform role`,
    parts: [
      { kind: 'text', text: `:white_check_mark: Rotation done: ${rotation.oldRole} deleted (verified by <@${run.requestedBy}>). ${rotation.newRole} is the Terraform role:` },
      { kind: 'code', text: rotation.newArn },
      { kind: 'context', text: `The bot now uses ${rotation.newRole} for \`iam check\` and the review; set iam.roleName to ${rotation.newRole} in the configuration too.` },
    ],
    visibility: 'channel',
  };
}

async function remind(run: JobRun<IamRotateData>, id: string): Promise<Reply> {
  const state = iamState(run.clients.redis, run.config);
  const rotation = await state.loadRotation(id);
  if (!rotation || rotation.status !== 'awaiting-verification') {
    return { summary: `No reminder needed for rotation ${id} (${rotation?.status ?? 'unknown'})`, parts: [{ kind: 'text', text: 'No reminder needed.' }], visibility: 'ephemeral' };
  }
  const text =
    `:alarm_clock: Reminder: ${rotation.newRole} was created 24 hours ago and ${rotation.oldRole} still exists. ` +
    `<@${rotation.requestedBy}>: switch Terraform to ${rotation.newRole}, check \`terraform plan\`, then press "Terraform plan verified" above (an approver may too).`;
  if (rotation.threadTs) {
    await run.clients.slack.chat.postMessage({ channel: rotation.channel, thread_ts: rotation.threadTs, text, reply_broadcast: true });
  } else {
    await run.clients.slack.chat.postMessage({ channel: rotation.channel, text });
  }
  await state.setDetail(id, `reminder sent ${run.clients.clock.now().toISOString()}`);
  return { summary: `Reminder sent for rotation ${id}`, parts: [{ kind: 'text', text }], visibility: 'channel' };
}

export const iamRotateJob: JobDefinition<IamRotateData> = {
  name: IAM_ROTATE_JOB,
  title: (data) =>
    data.phase === 'create'
      ? `Rotate AWS role ${data.params.role ?? '(current role)'}: create the next role`
      : data.phase === 'delete'
        ? data.oldRole && data.newRole
          ? `Rotate AWS role ${data.oldRole} → ${data.newRole}: delete ${data.oldRole}`
          : `Rotate AWS role: delete the old role (rotation ${data.rotationId})`
        : `Rotate AWS role: reminder (rotation ${data.rotationId})`,
  onFailureNextStep: 'Rotate AWS IAM Role: the thread says exactly which role exists and what was removed; `/autostack iam check` shows the role as it is now.',

  async replan(data, run) {
    if (data.phase !== 'create') throw new Error('only the create phase is approved');
    const inspection = await inspect(run, data.params);
    inspected.set(run, inspection);
    return rotationPlan(inspection, run.config);
  },

  async process(run): Promise<Reply> {
    const data = run.data;
    switch (data.phase) {
      case 'create':
        return create(run, data.params);
      case 'delete':
        return remove(run, data.rotationId);
      case 'remind':
        return remind(run, data.rotationId);
    }
  },
};
