/**
 * The guarded IAM operations: `iam setup` and the first phase of `rotate aws-role` (create the
 * next role). The runtime inspects and plans when asked, at the approval and right before `run`,
 * which works from that last inspection. The later phases of a rotation (delete the old role
 * after "Terraform plan verified", the reminder) are `rotationStep`, a plain job.
 */
import type { JobRun, Operation } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import type { Reply } from '../../src/core/result.ts';
import { reply } from '../../src/core/result.ts';
import { BACKEND_CHANGE_NOTE, backendChange, createRotatedRole, deleteRole, inspectRotation, rotationPlan, verifySuccessor } from './rotate.ts';
import type { RotationInspection } from './rotate.ts';
import { getRole } from './role.ts';
import { iamState, newRotationId } from './state.ts';
import type { RotationRecord } from './state.ts';
import { IAM_ROTATION_JOB, REMINDER_DELAY_MS, VERIFIED_ACTION, resolveRotationRole } from './rotation-flow.ts';
import type { IamRotationData, RotateParams } from './rotation-flow.ts';
import { applySetup, inspectSetup, setupPlan } from './setup.ts';
import type { SetupInspection, SetupParams } from './setup.ts';
import { joinText, md, mention } from '../../src/core/text.ts';

export const setupOperation: Operation<SetupParams, SetupInspection> = {
  title: (params) => `IAM setup: role ${params.role}, inline policy ${params.policyName}`,
  onFailureNextStep: 'IAM Setup: fix the cause shown in the thread (it says what, if anything, was left), then run `/autostack iam setup` again.',
  inspect: (params, ctx) => inspectSetup(ctx.clients.aws(ctx.actor.id), ctx.config, params, ctx.clients.clock.now()),
  plan: (_params, inspection) => setupPlan(inspection),
  started: (params, ref) => reply(`IAM setup of ${params.role} ${ref.existing ? 'is already running' : 'started'}: each step and the role ARN follow in its thread.`),

  /** Creates or reuses the role and puts the inline policy; a failure undoes this run's changes (setup.ts). */
  async run(params, inspection, run) {
    await run.step(`Account ${inspection.identity.account}; policy ${inspection.file}${inspection.added.length ? ` + ${inspection.added.length} statements from iam check` : ''}`);
    const outcome = await applySetup(run.clients.aws(run.requestedBy).iam, inspection, (text) => run.step(text));
    const changed = outcome.created || outcome.trust === 'replace' || outcome.policy !== 'unchanged';
    await run.audit.record({
      actor: run.requestedBy,
      action: 'iam setup',
      args: { role: params.role, policyName: params.policyName, policyFile: inspection.file, principals: params.principals, addMissing: params.addMissing },
      result: changed ? 'changed' : 'unchanged',
      channel: run.channel,
      detail: `${outcome.roleArn}: role ${outcome.created ? 'created' : 'reused'}, trust ${outcome.trust}, inline policy ${outcome.policy}`,
    });
    const what = [
      outcome.created ? `created ${params.role}` : `reused ${params.role}`,
      outcome.trust === 'replace' ? 'replaced its trust policy' : '',
      outcome.policy === 'unchanged' ? `inline policy ${params.policyName} unchanged` : `${outcome.policy === 'put' ? 'put' : 'replaced'} inline policy ${params.policyName}`,
    ].filter(Boolean);
    return {
      summary: `IAM setup done: ${what.join(', ')}. Role ARN: ${outcome.roleArn}`,
      parts: [
        { kind: 'text', text: `:white_check_mark: IAM setup done: ${what.join(', ')}.` },
        { kind: 'text', text: '*Role ARN* (save this: Terraform assumes it):' },
        { kind: 'code', text: outcome.roleArn },
      ],
      visibility: 'channel',
    };
  },
};

export const rotateOperation: Operation<RotateParams, RotationInspection> = {
  title: (params) => `Rotate AWS role ${params.role ?? '(current role)'}: create the next role`,
  onFailureNextStep: 'Rotate AWS IAM Role: the thread says exactly which role exists and what was removed; `/autostack iam check` shows the role as it is now.',

  /** Refused while another rotation of the same role waits for verification. */
  async inspect(params, ctx) {
    const role = await resolveRotationRole(ctx.clients.redis, ctx.config, params);
    const state = iamState(ctx.clients.redis, ctx.config);
    const active = await state.activeRotationFor(role);
    if (active) {
      const rotation = await state.loadRotation(active);
      throw new UserFacingError(
        `A rotation of ${role} is already in progress${rotation ? ` (${rotation.newRole} created, ${rotation.status})` : ''}; finish it before starting another.`,
        rotation?.status === 'delete-failed' ? `Its last deletion attempt failed: ${rotation.detail ?? 'see its thread'}. Press "Terraform plan verified" in its thread to retry.` : 'Press "Terraform plan verified" in its thread once Terraform works with the new role.',
      );
    }
    return inspectRotation(ctx.clients.aws(ctx.actor.id).iam, role);
  },
  plan: (_params, inspection, config) => rotationPlan(inspection, config),
  started: (_params, ref) => reply(`Rotation ${ref.existing ? 'is already running' : 'started'}: the new role's ARN and the backend.tf change follow in its thread.`),
  run: (_params, inspection, run) => create(run, inspection),
};

/** The later phases of a rotation: deleting the old role, the reminder. */
export async function rotationStep(run: JobRun<IamRotationData>): Promise<Reply> {
  const data = run.data;
  return data.phase === 'delete' ? remove(run, data.rotationId) : remind(run, data.rotationId);
}

export function rotationStepTitle(data: IamRotationData): string {
  return data.phase === 'delete'
    ? data.oldRole && data.newRole
      ? `Rotate AWS role ${data.oldRole} → ${data.newRole}: delete ${data.oldRole}`
      : `Rotate AWS role: delete the old role (rotation ${data.rotationId})`
    : `Rotate AWS role: reminder (rotation ${data.rotationId})`;
}

async function create(run: JobRun<RotateParams>, inspection: RotationInspection): Promise<Reply> {
  const state = iamState(run.clients.redis, run.config);
  const iam = run.clients.aws(run.requestedBy).iam;
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
  const threadTs = await run.thread();
  const record: RotationRecord = {
    id,
    oldRole: old.name,
    oldArn: old.arn,
    newRole,
    newArn: created.arn,
    requestedBy: run.requestedBy,
    channel: run.channel,
    ...(threadTs ? { threadTs } : {}),
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
    joinText([
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
    ].join('\n') + '\n',
    md`When \`terraform plan\` succeeds with ${newRole}, press the button: the bot then deletes ${old.name}. ${mention(run.requestedBy)} or an approver may press it.`,
    ]),
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
  await run.jobs.start<IamRotationData>(IAM_ROTATION_JOB, { phase: 'remind', rotationId: id }, { channel: '', requestedBy: run.requestedBy, delayMs: REMINDER_DELAY_MS, jobId: `iam-rotate-remind-${id}` });
  return {
    summary: `${newRole} created as a copy of ${old.name}; waiting for "Terraform plan verified"`,
    parts: [
      { kind: 'text', text: `:hourglass_flowing_sand: ${newRole} created as a copy of ${old.name}. Waiting for "Terraform plan verified" (a reminder follows after 24 h).` },
      { kind: 'code', text: created.arn },
    ],
    visibility: 'channel',
  };
}

async function remove(run: JobRun<IamRotationData>, id: string): Promise<Reply> {
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
      { kind: 'text', text: md`:white_check_mark: Rotation done: ${rotation.oldRole} deleted (verified by ${mention(run.requestedBy)}). ${rotation.newRole} is the Terraform role:` },
      { kind: 'code', text: rotation.newArn },
      { kind: 'context', text: `The bot now uses ${rotation.newRole} for \`iam check\` and the review; set iam.roleName to ${rotation.newRole} in the configuration too.` },
    ],
    visibility: 'channel',
  };
}

async function remind(run: JobRun<IamRotationData>, id: string): Promise<Reply> {
  const state = iamState(run.clients.redis, run.config);
  const rotation = await state.loadRotation(id);
  if (!rotation || rotation.status !== 'awaiting-verification') {
    return { summary: `No reminder needed for rotation ${id} (${rotation?.status ?? 'unknown'})`, parts: [{ kind: 'text', text: 'No reminder needed.' }], visibility: 'ephemeral' };
  }
  const text =
    md`:alarm_clock: Reminder: ${rotation.newRole} was created 24 hours ago and ${rotation.oldRole} still exists. ${mention(rotation.requestedBy)}: switch Terraform to ${rotation.newRole}, check \`terraform plan\`, then press "Terraform plan verified" above (an approver may too).`;
  await run.clients.notify.post(rotation.channel, text, rotation.threadTs ? { threadTs: rotation.threadTs, broadcast: true } : {});
  await state.setDetail(id, `reminder sent ${run.clients.clock.now().toISOString()}`);
  return { summary: `Reminder sent for rotation ${id}`, parts: [{ kind: 'text', text }], visibility: 'channel' };
}
