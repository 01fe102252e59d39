/** Marks an approval request expired when nobody decided in time, and says so on its message. */
import type { JobDefinition } from './types.ts';
import { reply } from './result.ts';

export const APPROVAL_EXPIRY_JOB = 'approval-expiry';

export function approvalExpiryJob(expire: (id: string) => Promise<void>): JobDefinition<{ id: string }> {
  return {
    name: APPROVAL_EXPIRY_JOB,
    title: (data) => `Expire approval request ${data.id}`,
    async process(run) {
      await expire(run.data.id);
      return reply(`approval request ${run.data.id} checked for expiry`);
    },
  };
}
