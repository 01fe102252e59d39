/**
 * The automatic unblock at the end of a `ratelimit block` TTL. It is a delayed BullMQ job, so it
 * lives in Redis and fires after a restart of the bot just the same. It acts only if the block's
 * record still ends at the time it was scheduled for: a renewed or manually lifted block is left
 * alone. Removing an address that is already gone is not an error, so a retry is harmless.
 */
import type { JobDefinition } from '../src/core/types.ts';
import { reply } from '../src/core/result.ts';
import { expireBlock, UNBLOCK_JOB } from '../commands/incident/ratelimit/block.ts';
import type { UnblockJobData } from '../commands/incident/ratelimit/block.ts';
import { describeTarget } from '../commands/incident/ratelimit/blocklist.ts';
import { md, mention } from '../src/core/text.ts';

export type { UnblockJobData };

export const rateLimitUnblockJob: JobDefinition<UnblockJobData> = {
  name: UNBLOCK_JOB,
  title: (data) => `Unblock ${data.cidr} when its block ends (${data.until.slice(0, 16).replace('T', ' ')} UTC)`,
  retry: { attempts: 3, safeToRepeat: 'removing the network from the list is idempotent; the record is deleted only if unchanged' },
  onFailureNextStep: 'The address is still blocked: lift it with `/autostack ratelimit unblock <ip|cidr>` and check `/autostack ratelimit blocks`.',
  async process(run) {
    const outcome = await expireBlock({ config: run.config, clients: run.clients, audit: run.audit, requestedBy: run.requestedBy }, run.data, (text) => run.step(text));
    switch (outcome.kind) {
      case 'no-record':
        return reply(`${run.data.cidr} was already unblocked; nothing to do.`, [], 'channel');
      case 'renewed':
        return reply(`${run.data.cidr} was blocked again until ${outcome.record.until.slice(0, 16).replace('T', ' ')} UTC; it stays blocked until then.`, [], 'channel');
      case 'unblocked': {
        const where = describeTarget(outcome.record.target);
        const text = outcome.removed
          ? `:unlock: ${run.data.cidr} unblocked: its block ended and it was removed from ${where} (${outcome.entries} entr${outcome.entries === 1 ? 'y' : 'ies'} left).`
          : `:unlock: ${run.data.cidr}'s block ended; it was no longer in ${where}, and its record was deleted.`;
        return reply(`${run.data.cidr} unblocked (TTL ended)`, [{ kind: 'text', text }, { kind: 'context', text: md`Blocked by ${mention(outcome.record.by)} at ${outcome.record.at.slice(0, 16).replace('T', ' ')} UTC${outcome.record.reason ? md`: ${outcome.record.reason}` : ''}.` }], 'channel');
      }
    }
  },
};
