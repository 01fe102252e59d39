/**
 * The rotation reminder: what is due soon or overdue, the message for the ops channel, and the
 * once-per-day guard shared by every replica (`SET NX` on a key per day in the configured zone):
 *   <prefix>:rotation:reminded:<YYYY-MM-DD>   JSON {at, credentials}, kept two days
 */
import type { Redis } from 'ioredis';
import type { Config } from '../../src/config.ts';
import type { CredentialStatus } from './records.ts';
import { CREDENTIAL_LABEL, ROTATE_COMMAND, dayIn, isoDate, stateText } from './records.ts';
import type { Text } from '../../src/core/text.ts';
import { joinText, md, mention } from '../../src/core/text.ts';

/** The daily reminder's job (jobs/rotation-reminder.ts). */
export const ROTATION_REMINDER_JOB = 'rotation-reminder';

/** The schedule passes no input. */
export type RotationReminderData = Record<string, never>;

export function remindedKey(prefix: string, day: string): string {
  return `${prefix}:rotation:reminded:${day}`;
}

/** Credentials that call for a reminder (due within rotation.dueSoonDays, or overdue). */
export function dueForReminder(statuses: CredentialStatus[]): CredentialStatus[] {
  return statuses.filter((s) => s.state === 'due-soon' || s.state === 'overdue');
}

/** Claims today's reminder; false when another run (any replica) already posted it. */
export async function claimDay(redis: Redis, config: Config, now: Date, credentials: string[]): Promise<{ claimed: boolean; day: string; key: string }> {
  const day = dayIn(config.rotation.timezone, now);
  const key = remindedKey(config.redis.prefix, day);
  const set = await redis.set(key, JSON.stringify({ at: now.toISOString(), credentials }), 'EX', 2 * 86_400, 'NX');
  return { claimed: set === 'OK', day, key };
}

export function statusLine(status: CredentialStatus): Text {
  const label = CREDENTIAL_LABEL[status.credential];
  if (status.state === 'unknown') return `${label}: ${stateText(status)}`;
  const record = status.record!;
  const by = record.by ? md` by ${mention(record.by)}` : '';
  return joinText([`${label}: ${stateText(status)} (due ${isoDate(status.dueAt!)}, last rotated ${isoDate(record.lastRotated)}`, by, `; every ${status.intervalDays} days)`]);
}

/** The reminder's text. */
export function reminderText(due: CredentialStatus[], unknown: CredentialStatus[]): Text {
  const lines: Text[] = [':rotating_light: *Credential rotation reminder* (runbook: Credential Rotation)'];
  for (const status of due) {
    const hint = status.credential === 'jwt' ? `\`${ROTATE_COMMAND.jwt} --notify <channel>\` (ends every session: tell users first)` : `\`${ROTATE_COMMAND[status.credential]}\``;
    lines.push(joinText(['• ', statusLine(status), ` → ${hint}`]));
  }
  for (const status of unknown) lines.push(joinText(['• ', statusLine(status)]));
  lines.push('Already rotated outside the bot? Record it with `/autostack rotate mark <credential> <YYYY-MM-DD>`.');
  return joinText(lines, '\n');
}
