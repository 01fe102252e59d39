/** manifest.yml is a valid app manifest that asks for the least scopes the code needs. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { METHOD_SCOPES, CAPABILITY_SCOPES } from '../../src/slack/scopes.ts';
import { usageLine } from '../../src/core/registry.ts';
import { staticRegistry } from '../../commands/index.ts';

interface Manifest {
  display_information: { name: string };
  features: { slash_commands: Array<{ command: string; usage_hint: string; description: string }>; app_home: { home_tab_enabled: boolean }; bot_user: { display_name: string } };
  oauth_config: { scopes: { bot: string[] } };
  settings: { interactivity: { is_enabled: boolean }; socket_mode_enabled: boolean; event_subscriptions: { bot_events: string[] } };
}

const manifest = parse(readFileSync('manifest.yml', 'utf8')) as Manifest;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Web API methods called anywhere in the bot's code (`client.chat.postMessage(`, `slack.files.uploadV2(` ...). */
function calledMethods(): Set<string> {
  const methods = new Set<string>();
  const pattern = /(?:slack|client)\.(auth|chat|files|views|usergroups|users|conversations|pins)\.((?:\w+\.)?\w+)\(/g;
  for (const file of ['src', 'commands', 'jobs'].flatMap(sourceFiles)) {
    for (const match of readFileSync(file, 'utf8').matchAll(pattern)) methods.add(`${match[1]}.${match[2]}`);
  }
  return methods;
}

describe('manifest.yml', () => {
  it('has the keys Slack requires and the /autostack command with a usage hint', () => {
    expect(manifest.display_information.name).toBe('AutoStack ChatOps');
    const command = manifest.features.slash_commands.find((c) => c.command === '/autostack');
    expect(command?.usage_hint).toMatch(/help/);
    expect(command?.description.length).toBeGreaterThan(0);
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.features.app_home.home_tab_enabled).toBe(true);
    expect(typeof manifest.settings.socket_mode_enabled).toBe('boolean');
  });

  it('asks for exactly the bot scopes the code needs', () => {
    const methods = calledMethods();
    for (const method of methods) expect(Object.keys(METHOD_SCOPES), `scope table lacks ${method}`).toContain(method);
    const needed = new Set([...methods].map((m) => METHOD_SCOPES[m]).filter((s): s is string => Boolean(s)));
    for (const scope of Object.keys(CAPABILITY_SCOPES)) needed.add(scope);
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...needed].sort());
  });

  it('every verb of the registry appears in help', async () => {
    const registry = staticRegistry();
    const help = registry.verbs.find((v) => v.path.join(' ') === 'help')!;
    const result = await help.execute!({}, { actor: { id: 'U1', role: 'approver' } } as never);
    const text = JSON.stringify(result.parts);
    for (const verb of registry.verbs) expect(text, usageLine(verb)).toContain(usageLine(verb).replace(/"/g, '\\"'));
  });
});
