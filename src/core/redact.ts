/**
 * Redaction of argument values before they reach audit entries, logs or Slack.
 */
const SECRET_KEY = /secret|password|passwd|token|credential|private|api[-_]?key|signing/i;

export const REDACTED = '[redacted]';

/** Replaces the values of secret-looking keys, recursively. */
export function redactFields<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => redactFields(item)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = SECRET_KEY.test(key) && inner !== undefined && inner !== null && inner !== '' ? REDACTED : redactFields(inner);
    }
    return out as T;
  }
  if (typeof value === 'string' && value.startsWith('sealed:v1:')) return REDACTED as T;
  return value;
}
