/**
 * A rough length of time for messages: "45s", "12m", "3h 5m", "2d".
 */

/** `ms` rounded to seconds and shown in its largest unit ("45s", "12m", "3h 5m", "2d"); negative counts as 0s. */
export function span(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86_400)}d`;
}
