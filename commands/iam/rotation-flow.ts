/**
 * The Slack side of a rotation: which role, the approved plan, and the "Terraform plan verified"
 * button that starts the deletion of the old role (requester or an approver).
 */
import type { Redis } from 'ioredis';
import type { Config } from '../../src/config.ts';
import type { ActionHandler } from '../../src/core/types.ts';
import { errorReply, reply } from '../../src/core/result.ts';
import { iamState } from './state.ts';
import type { RotationStatus } from './state.ts';
import { md, mention } from '../../src/core/text.ts';

/** The later phases of a rotation (jobs/iam-rotation.ts). */
export const IAM_ROTATION_JOB = 'iam-rotation';
export const VERIFIED_ACTION = 'iam.rotate.verified';
export const REMINDER_DELAY_MS = 24 * 3_600_000;

export interface RotateParams {
  /** Undefined: the configured role (or its successor after the last rotation). */
  role?: string;
}

export type IamRotationData =
  /** The role names are only for the title; the job reads the rotation from Redis. */
  | { phase: 'delete'; rotationId: string; oldRole?: string; newRole?: string }
  | { phase: 'remind'; rotationId: string };

export async function resolveRotationRole(redis: Redis, config: Config, params: RotateParams): Promise<string> {
  return params.role ?? (await iamState(redis, config).currentRoleName(config));
}

/** "Terraform plan verified": the requester or an approver starts the deletion of the old role. */
export const verifiedHandler: ActionHandler = {
  action: VERIFIED_ACTION,
  minRole: 'operator',
  stepOf: ['rotate', 'aws-role'],
  async handle(value, ctx) {
    const state = iamState(ctx.clients.redis, ctx.config);
    const rotation = await state.loadRotation(value);
    if (!rotation) return errorReply('This rotation is unknown (or finished long ago); nothing was changed.');
    if (ctx.actor.id !== rotation.requestedBy && ctx.actor.role !== 'approver') {
      return errorReply(md`Only ${mention(rotation.requestedBy)}, who asked for this rotation, or an approver can confirm that Terraform works with ${rotation.newRole}.`);
    }
    if (ctx.config.aws.assumeRoleArn === rotation.oldArn) {
      return errorReply(
        `The bot itself still assumes ${rotation.oldRole} (aws.assumeRoleArn); deleting it would cut the bot off. Nothing was changed.`,
        `Set aws.assumeRoleArn to ${rotation.newArn}, restart the bot, then press the button again.`,
      );
    }
    const from: RotationStatus[] = ['awaiting-verification', 'delete-failed'];
    const moved = await state.transition(rotation.id, from, 'deleting', { verifiedBy: ctx.actor.id });
    if (moved !== 'ok') {
      const why = moved === 'deleting' ? `${rotation.oldRole} is being deleted already` : moved === 'done' ? `this rotation is finished: ${rotation.oldRole} was deleted` : `the rotation is ${moved}`;
      return errorReply(`Nothing to do: ${why}.`);
    }
    const attempts = (await state.loadRotation(rotation.id))?.attempts ?? 1;
    try {
      await ctx.jobs.start<IamRotationData>(
        IAM_ROTATION_JOB,
        { phase: 'delete', rotationId: rotation.id, oldRole: rotation.oldRole, newRole: rotation.newRole },
        { channel: rotation.channel, requestedBy: ctx.actor.id, ...(rotation.threadTs ? { threadTs: rotation.threadTs } : {}), jobId: `iam-rotate-delete-${rotation.id}-${attempts}` },
      );
    } catch (error) {
      await state.transition(rotation.id, ['deleting'], rotation.status);
      throw error;
    }
    await ctx.audit.record({
      actor: ctx.actor.id,
      action: 'rotate aws-role',
      args: { rotation: rotation.id, role: rotation.oldRole, newRole: rotation.newRole },
      result: 'terraform plan verified',
      channel: ctx.channel,
    });
    return reply(`Terraform plan verified: deleting ${rotation.oldRole} now; each step is shown in the rotation's thread.`);
  },
};
