/** The supported Node.js LTS runs everything: the tests, npm scripts, and the image. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> };
const major = (version: string) => Number(/(\d+)/.exec(version)?.[1]);

describe('Node.js runtime', () => {
  it('runs the tests on the version engines asks for', () => {
    expect(pkg.engines.node).toMatch(/^>=\d+$/);
    expect(major(process.version)).toBeGreaterThanOrEqual(major(pkg.engines.node));
    expect(major(process.version)).toBeGreaterThanOrEqual(24);
  });

  it('installs that version with npm ci and puts it first on the path of npm scripts', () => {
    expect(major(pkg.devDependencies.node!)).toBe(major(pkg.engines.node));
    const version = execFileSync('npm', ['exec', '--', 'node', '--version'], { encoding: 'utf8' }).trim();
    expect(major(version)).toBe(major(pkg.engines.node));
    expect(version).toBe(process.version);
  });
});
