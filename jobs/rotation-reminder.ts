/**
 * The daily rotation reminder (schedule `rotation-reminder`, rotation.reminderCron in
 * rotation.timezone): posts to the ops channel when a credential is due within
 * rotation.dueSoonDays or overdue, at most once per day however many replicas or runs there are.
 */
import type { JobDefinition } from '../src/core/types.ts';
import { UserFacingError } from '../src/core/types.ts';
import type { Reply } from '../src/core/result.ts';
import { reply } from '../src/core/result.ts';
import { RotationRecords, allStatuses, CREDENTIAL_LABEL } from '../commands/rotate/records.ts';
import { ROTATION_REMINDER_JOB, claimDay, dueForReminder, reminderText } from '../commands/rotate/reminder.ts';
import type { RotationReminderData } from '../commands/rotate/reminder.ts';
import { channelRef, md } from '../src/core/text.ts';

export const rotationReminderJob: JobDefinition<RotationReminderData> = {
  name: ROTATION_REMINDER_JOB,
  title: () => 'Credential rotation reminder',
  onFailureNextStep: 'Run `/autostack rotate status` to see what is due.',

  async process(run): Promise<Reply> {
    const now = run.clients.clock.now();
    const statuses = await allStatuses(RotationRecords.of(run.clients.redis, run.config), run.config, now);
    const due = dueForReminder(statuses);
    if (due.length === 0) {
      const unknown = statuses.filter((s) => s.state === 'unknown').map((s) => CREDENTIAL_LABEL[s.credential]);
      return reply(`Nothing due within ${run.config.rotation.dueSoonDays} days${unknown.length ? ` (never recorded: ${unknown.join(', ')})` : ''}; no reminder posted.`, [], 'channel');
    }
    const channel = run.config.channels.ops;
    if (!channel) throw new UserFacingError('Credentials are due, but channels.ops is not configured: there is nowhere to post the reminder.');
    const claim = await claimDay(run.clients.redis, run.config, now, due.map((s) => s.credential));
    if (!claim.claimed) return reply(`The reminder for ${claim.day} was already posted; not posted again.`, [], 'channel');
    const text = reminderText(due, statuses.filter((s) => s.state === 'unknown'));
    try {
      await run.clients.notify.post(channel, text);
    } catch (error) {
      // Give the day back so a later run can post it.
      await run.clients.redis.del(claim.key);
      throw new UserFacingError(md`Posting the rotation reminder to ${channelRef(channel)} failed: ${(error as Error).message}`);
    }
    const names = due.map((s) => CREDENTIAL_LABEL[s.credential]).join(', ');
    return reply(md`Reminder posted to ${channelRef(channel)}: ${names}.`, [], 'channel');
  },
};
