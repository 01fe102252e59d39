/**
 * User text that names a key of Object.prototype (`__proto__`, `constructor`, `valueOf`, ...)
 * as a flag, an app, a Terraform state or a backup: the usage line or "unknown ...", nothing
 * enqueued, nothing asked. Signed commands through the real bot, with every runbook area loaded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { areaModules } from '../../commands/index.ts';
import { kubeClientsFrom } from '../../src/clients.ts';
import { parseArgs } from '../../src/core/args.ts';
import { createDeployment, kubeNamespace } from '../harness/kube-env.ts';
import { OPS, USERS, startTestBot, type TestBot } from '../harness/bot.ts';

let t: TestBot;

beforeAll(async () => {
  const kns = await kubeNamespace();
  await createDeployment(kns, { name: 'backend', image: 'registry.example/autostack/backend:2.0' });
  const kc = kns.bot;
  t = await startTestBot({
    modules: areaModules,
    config: {
      kubernetes: { namespace: kns.name },
      deploy: { apps: { backend: { deployment: 'backend', image: 'registry.example/autostack/backend' } } },
    },
    overrides: { kube: () => kubeClientsFrom(kc) },
  });
});

afterAll(async () => {
  await t?.stop();
});

/** Jobs in the queue other than the schedules' next runs. */
async function queued(): Promise<string[]> {
  const jobs = await t.bot.jobs.queue.getJobs(['active', 'waiting', 'delayed', 'completed', 'failed', 'prioritized']);
  return jobs.filter((job) => job && !job.repeatJobKey).map((job) => job.name);
}

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'valueOf', 'hasOwnProperty', 'toString'];

describe('prototype keys typed as flags and names', () => {
  it('as flags: every verb answers with its usage line', async () => {
    const commands = PROTOTYPE_KEYS.flatMap((key) => [`rotate jwt --${key}=x`, `db migrate --${key}=1`, `ping --${key}`, `tf unlock --${key}`, `backup now --${key} 1`]);
    for (const command of commands) {
      const before = t.ephemeralTexts(USERS.approver).length;
      await t.command(USERS.approver, command);
      const answers = t.ephemeralTexts(USERS.approver).slice(before);
      expect(answers, command).toHaveLength(1);
      expect(answers[0], command).toMatch(/unknown option --\S+ .*Usage: `\/autostack /s);
    }
    expect(await queued()).toEqual([]);
    expect(t.messages(OPS)).toEqual([]);
  });

  it('as app names, state names and backup names: "unknown ..." or the usage line', async () => {
    const expected: Array<[string, RegExp]> = [
      ['deploy constructor v1.0', /"constructor" is not a deployable app; configured apps: backend/],
      ['deploy protected constructor v1.0', /"constructor" is not a deployable app/],
      ['deploy valueof v1.0', /"valueof" is not a deployable app/],
      ['rollback constructor', /Deployment constructor not found in namespace ns[a-z0-9]+\./],
      ['history constructor', /Deployment constructor not found in namespace ns[a-z0-9]+\./],
      ['ratelimit top --app constructor', /Deployment constructor not found in namespace ns[a-z0-9]+\./],
      ['tf unlock __proto__', /unknown Terraform state "__proto__"/],
      ['tf lock constructor', /unknown Terraform state "constructor"/],
      ['tf versions valueOf', /unknown Terraform state "valueOf"/],
      ['tf restore 3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY constructor', /unknown Terraform state "constructor"/],
      ['backup restore __proto__', /"__proto__" is not a backup name/],
      ['backup verify constructor', /"constructor" is not a backup name/],
      ['rotate mark constructor 2026-01-01', /unknown credential "constructor"/],
      ['oauth check __proto__', /unknown provider "__proto__"/],
      ['help constructor', /No commands you may run match "constructor"/],
    ];
    for (const [command, answer] of expected) {
      const before = t.ephemeralTexts(USERS.approver).length;
      await t.command(USERS.approver, command);
      const answers = t.ephemeralTexts(USERS.approver).slice(before);
      expect(answers, command).toHaveLength(1);
      expect(answers[0], command).toMatch(answer);
      expect(answers[0], command).not.toMatch(/Cannot read properties|undefined|\[object|function/);
    }
    expect(await queued()).toEqual([]);
    expect(t.messages(OPS)).toEqual([]);
  });

  it('parseArgs never takes an inherited key for a declared flag', () => {
    const verb = { path: ['x'], usage: '', flags: { since: 'string' as const }, positional: { min: 0, max: 0 } };
    for (const key of PROTOTYPE_KEYS) {
      expect(() => parseArgs([`--${key}=1`], verb), key).toThrow(`unknown option --${key} (options: --since)`);
    }
    const parsed = parseArgs(['--since', '5m'], verb);
    expect(Object.getPrototypeOf(parsed.flags)).toBe(Object.prototype);
  });
});
