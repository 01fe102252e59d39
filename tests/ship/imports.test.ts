/**
 * The layers, read from the real import graph (every relative import and dynamic import of the
 * source files): jobs -> commands -> commands/shared -> src/core. commands/index.ts composes the
 * areas (it is no area), so an area that shows another's state receives it from there.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** file → the repository paths it imports (relative specifiers only), and the packages it imports. */
function graph(): Map<string, { files: string[]; packages: string[] }> {
  const edges = new Map<string, { files: string[]; packages: string[] }>();
  for (const file of [...sources('src'), ...sources('commands'), ...sources('jobs')]) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    // `... from '<spec>'`, `import '<spec>'` and `import('<spec>')`.
    const specs = [...text.matchAll(/\bfrom\s+'([^']+)'|\bimport\s*\(?\s*'([^']+)'/g)].map((m) => m[1] ?? m[2]!);
    const files = specs.filter((s) => s.startsWith('.')).map((s) => relative(ROOT, normalize(join(ROOT, dirname(file), s))));
    edges.set(file, { files, packages: specs.filter((s) => !s.startsWith('.')) });
  }
  return edges;
}

const areaOf = (file: string) => (file.startsWith('commands/') && file.split('/').length > 2 ? file.split('/')[1] : undefined);


describe('import graph', () => {
  const edges = graph();

  it('has no import from commands/ into jobs/, and none from an area into another (commands/shared is shared)', () => {
    const found: string[] = [];
    for (const [file, { files }] of edges) {
      for (const target of files) {
        if (file.startsWith('commands/') && target.startsWith('jobs/')) found.push(`${file} -> ${target}`);
        const from = areaOf(file);
        const to = areaOf(target);
        if (from && to && from !== to && from !== 'shared' && to !== 'shared') found.push(`${file} -> ${target}`);
      }
    }
    expect([...new Set(found)].sort()).toEqual([]);
  });

  it('keeps commands/shared free of areas, and src/core free of commands/ and jobs/', () => {
    const found: string[] = [];
    for (const [file, { files }] of edges) {
      for (const target of files) {
        if (file.startsWith('commands/shared/') && areaOf(target) && areaOf(target) !== 'shared') found.push(`${file} -> ${target}`);
        if (file.startsWith('src/core/') && (target.startsWith('commands/') || target.startsWith('jobs/'))) found.push(`${file} -> ${target}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('gives commands and jobs no Slack client: they write through the Notifier and Surface ports', () => {
    const found: string[] = [];
    for (const [file, { packages }] of edges) {
      if (!file.startsWith('commands/') && !file.startsWith('jobs/')) continue;
      for (const pkg of packages) if (pkg.startsWith('@slack/')) found.push(`${file} -> ${pkg}`);
    }
    expect(found).toEqual([]);
    const types = readFileSync(join(ROOT, 'src/core/types.ts'), 'utf8');
    const clients = /export interface Clients \{([\s\S]*?)\n\}/.exec(types)?.[1];
    expect(clients).toBeDefined();
    expect(clients).not.toMatch(/WebClient|@slack\//);
    expect(clients).toMatch(/notify: Notifier/);
    expect(types).not.toMatch(/from '@slack\//);
  });

  it('keeps development tools (dev/: console mode, the Slack emulator) out of the runtime: src/, commands/ and jobs/ never import dev/', () => {
    const found: string[] = [];
    for (const [file, { files }] of edges) for (const target of files) if (target.startsWith('dev/')) found.push(`${file} -> ${target}`);
    expect(found).toEqual([]);
  });

  it('holds no emulator, console or local service starter under src/', () => {
    const tools = sources('src').filter((file) => /emulat|console|fake|local-redis/i.test(file) || /\bclass \w*(Emulator|Fake)\w*|node:readline/.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(tools).toEqual([]);
    // The image builds from src/, commands/ and jobs/ only.
    const copied = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^COPY (\S+) /gm)].map((m) => m[1]);
    expect(copied).not.toContain('dev');
  });
});
