/**
 * Lookups keyed by user text (flags, app names, verb names) in plain objects read from the
 * configuration or declared in code: only the object's own keys count, so `__proto__`,
 * `constructor` or `valueOf` never find something inherited from Object.prototype.
 */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
