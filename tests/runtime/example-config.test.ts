/** autostack.example.yaml stays true: it is valid and documents every key that has a default. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config.ts';

function keyPaths(value: unknown, prefix = ''): string[] {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([key, inner]) => keyPaths(inner, prefix ? `${prefix}.${key}` : key));
}

describe('autostack.example.yaml', () => {
  const text = readFileSync('autostack.example.yaml', 'utf8');
  const example = parse(text) as Record<string, unknown>;

  it('is a valid configuration', () => {
    expect(() => parseConfig(example, {})).not.toThrow();
  });

  it('shows every key that has a default, with that default', () => {
    const defaults = parseConfig({}, {});
    const fromExample = parseConfig(example, {});
    expect(fromExample).toEqual(defaults);
    const documented = new Set(keyPaths(example));
    for (const path of keyPaths(defaults)) expect(documented, `autostack.example.yaml lacks ${path}`).toContain(path);
  });

  it('mentions every optional key too (commented out)', () => {
    for (const key of ['botToken', 'signingSecret', 'appToken', 'apiUrl', 'url:', 'ops:', 'incident:', 'audit:', 'key:', 'publicUrl', 'region', 'endpoint', 'assumeRoleArn', 'kubeconfig', 'apiToken', 'binDir', 'token:', 'oncallUsergroup', 'password']) {
      expect(text, key).toContain(key);
    }
  });
});
