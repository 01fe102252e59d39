/**
 * The quarterly role review (schedule `iam-review`, every iam.reviewEvery): posts the role's
 * policy summary, the `iam check` verdict and its last use, with buttons to check or rotate.
 */
import type { JobDefinition } from '../src/core/types.ts';
import type { Reply } from '../src/core/result.ts';
import { runRoleCheck } from '../commands/iam/inspect.ts';
import { IAM_REVIEW_JOB, reviewReply } from '../commands/iam/review.ts';
import type { IamReviewData } from '../commands/iam/review.ts';
import { iamState } from '../commands/iam/state.ts';

export const iamReviewJob: JobDefinition<IamReviewData> = {
  name: IAM_REVIEW_JOB,
  title: (data) => `Quarterly IAM role review${data.role ? `: ${data.role}` : ''}`,
  onFailureNextStep: 'Rotate AWS IAM Role (review quarterly): run `/autostack iam check` to see the role as it is now.',

  async process(run): Promise<Reply> {
    const state = iamState(run.clients.redis, run.config);
    const role = run.data.role ?? (await state.currentRoleName(run.config));
    const now = run.clients.clock.now();
    await run.step(`Reading ${role} and checking it against every runbook step…`);
    const check = await runRoleCheck(run.clients.aws(run.requestedBy === 'schedule' ? undefined : run.requestedBy), run.config, role, now);
    await state.markReviewed(role, now);
    return reviewReply(check, now, run.config.iam.reviewEvery);
  },
};
