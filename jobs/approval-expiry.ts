/** Marks an approval request expired when nobody decided in time, and says so on its message. */
import type { JobDefinition } from '../src/core/types.ts';
import { reply } from '../src/core/result.ts';

export function approvalExpiryJob(expire: (id: string) => Promise<void>): JobDefinition<{ id: string }> {
  return {
    name: 'approval-expiry',
    title: (data) => `Expire approval request ${data.id}`,
    async process(run) {
      await expire(run.data.id);
      return reply(`approval request ${run.data.id} checked for expiry`);
    },
  };
}
