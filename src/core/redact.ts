/**
 * Redaction of argument values before they reach audit entries, logs or Slack.
 */
import { isSecretName } from './secret-keys.ts';

export const REDACTED = '[redacted]';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!value || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Replaces the values of secret-looking keys in arrays and plain objects, recursively. Other
 * objects (errors, dates, buffers) are kept as they are for their own serializers.
 */
export function redactFields<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => redactFields(item)) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = isSecretName(key) && inner !== undefined && inner !== null && inner !== '' ? REDACTED : redactFields(inner);
    }
    return out as T;
  }
  if (typeof value === 'string' && value.startsWith('sealed:v1:')) return REDACTED as T;
  return value;
}
