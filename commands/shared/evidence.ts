/**
 * Words for evidence in replies read on a phone at 3 a.m.: image tags instead of full registry
 * URIs, and times as "07:12 UTC (3 min ago)".
 */
import { spokenDuration } from '../../src/core/durations.ts';

/** `123456789012.dkr.ecr.eu-west-1.amazonaws.com/autostack/backend:1.4.1` → `backend:1.4.1` (a digest is shortened to 12 hex digits). */
export function imageTag(reference: string): string {
  const [name = reference, digest] = reference.split('@');
  const last = name.slice(name.lastIndexOf('/') + 1);
  if (!digest) return last;
  const hex = digest.replace(/^sha256:/, '').slice(0, 12);
  return `${last}@${hex}`;
}

/** "07:12 UTC", with the date when it is not today's. */
export function utcTime(at: Date, now: Date): string {
  const iso = at.toISOString();
  const day = iso.slice(0, 10) === now.toISOString().slice(0, 10) ? '' : `${iso.slice(0, 10)} `;
  return `${day}${iso.slice(11, 16)} UTC`;
}

/** "07:12 UTC (3 min ago)"; the date is added when it is not today's; "in 5 min" for a future time. */
export function clockTime(at: Date, now: Date): string {
  const delta = now.getTime() - at.getTime();
  const relative = delta >= 0 ? `${spokenDuration(delta)} ago` : `in ${spokenDuration(-delta)}`;
  return `${utcTime(at, now)} (${relative})`;
}
