/**
 * Messages that say what to do, through signed slash commands into the real bot: a wrong
 * argument shows the usage with an example, a duration typed in words gets the spelling to use,
 * and a denial names whom to ask for the role (and the user groups that carry it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incidentModule } from '../../commands/index.ts';
import { INCIDENT, USERS, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';

describe('messages that say what to do', () => {
  let t: TestBot;
  let granted: TestBot;

  beforeAll(async () => {
    t = await startTestBot({ modules: [incidentModule] });
    granted = await startTestBot({
      modules: [incidentModule],
      config: { access: { grantedBy: { users: [USERS.approver2] }, operator: { usergroups: ['S0OPS'] } } },
    });
    granted.emulator.setUsergroup('S0OPS', [USERS.operator]);
  });
  afterAll(async () => {
    await t?.stop();
    await granted?.stop();
  });

  const answer = async (bot: TestBot, user: string, text: string) => {
    await bot.command(user, text, INCIDENT);
    return bot.ephemeralTexts(user).at(-1)!;
  };

  it('a missing argument shows the usage and an example', async () => {
    expect(await answer(t, USERS.operator, 'ratelimit block')).toMatch(
      /expected 1 to 60 arguments, got 0.*Usage: `\/autostack ratelimit block <ip\|cidr> \[--ttl 1h\].*`, for example `\/autostack ratelimit block 203\.0\.113\.7 --ttl 2h scraping the login endpoint`/s,
    );
    expect(await answer(t, USERS.operator, 'ratelimit unblock 1.2.3.4 5.6.7.8')).toContain('for example `/autostack ratelimit unblock 203.0.113.7`');
  });

  it('a duration typed in words gets the spelling to use, whether split or quoted', async () => {
    expect(await answer(t, USERS.viewer, 'logs backend --since 2 hours')).toContain('--since takes a duration written as one word: use 2h (not "2 hours")');
    expect(await answer(t, USERS.viewer, 'logs backend --since "30 minutes"')).toContain('--since must be a duration such as 15m, 2h or 1d (got "30 minutes": use 30m)');
    expect(await answer(t, USERS.viewer, 'ratelimit top --since 1 day')).toContain('use 1d (not "1 day")');
  });

  it('a denial names whom to ask for the role: the approvers by default', async () => {
    const denied = await answer(t, USERS.viewer, 'restart backend');
    expect(denied).toMatch(/not allowed to run `restart`: it needs the operator role and you are viewer/);
    expect(denied).toContain('Ask <!subteam^S0LEADS>, <@U0APPROVER1> for the operator role (access.operator in the bot configuration).');
  });

  it('a denial names access.grantedBy and the user groups that carry the role, when configured', async () => {
    const denied = await answer(granted, USERS.stranger, 'restart backend');
    expect(denied).toMatch(/it needs the operator role and you have no AutoStack role/);
    expect(denied).toContain('Ask <@U0APPROVER2> for the operator role (access.operator in the bot configuration; members of <!subteam^S0OPS> have it).');
  });
});
