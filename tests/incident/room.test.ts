/**
 * Incident rooms end to end: signed slash commands through the real bot (Bolt's HTTP receiver,
 * dispatcher, BullMQ jobs in the test Redis) against the Slack emulator. Declaring creates the
 * channel, invites the requester and the on-call group, pins the status and the overview and
 * announces; updates change the topic and the pinned status; resolve uploads a report whose
 * timeline lists the commands, approvals and job outcomes made in the channel, with names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandModule, Operation } from '../../src/core/types.ts';
import { reply } from '../../src/core/result.ts';
import { incidentModule } from '../../commands/index.ts';
import { OPS, USERS, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';

/** An approval verb that changes nothing: the approval is what the timeline must show. */
const drillOperation: Operation<Record<string, never>, Record<string, never>> = {
  inspect: async () => ({}),
  plan: () => ({ title: 'Failover drill', steps: ['nothing (a drill)'], resources: ['none'] }),
  run: async () => reply('Drill done', [], 'channel'),
  title: () => 'Failover drill',
  inline: true,
};
const drillModule: CommandModule = {
  area: 'drill',
  verbs: [{ path: ['drill'], section: 'bot', runbookStep: 'test', summary: 'test', usage: '', minRole: 'operator', guard: 'approval', parse: () => ({}), operation: drillOperation }],
};

let t: TestBot;
let room: string;

beforeAll(async () => {
  t = await startTestBot({ modules: [incidentModule, drillModule], config: { incidents: { oncallUsergroup: 'S0LEADS' } } });
});

afterAll(async () => {
  await t?.stop();
});

function state() {
  return t.emulator.channelState(room)!;
}

describe('incident rooms', () => {
  it('declare creates the channel, invites requester and on-call group, pins status and overview, sets the topic and announces', async () => {
    await t.command(USERS.operator, 'incident declare sev2 DB down in eu-west');
    const created = t.emulator.listChannels().find((c) => /^inc-\d{8}-db-down-in-eu-west$/.test(c.name));
    expect(created, JSON.stringify(t.emulator.listChannels())).toBeDefined();
    room = created!.id;
    expect(state().members?.sort()).toEqual([USERS.approver2, USERS.operator].sort());
    expect(state().topic).toBe('SEV2 | investigating | lead: operator | DB down in eu-west');
    expect(state().pins.map((m) => t.text(m))).toEqual([expect.stringContaining('Incident: DB down in eu-west'), expect.stringContaining('Incident overview')]);
    const announcement = t.messages(OPS).find((m) => t.text(m).includes('SEV2 incident declared'));
    expect(announcement && t.text(announcement)).toContain(`#${room}`);
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/created .*invited .*pinned the status, pinned the overview, announced it in .*set the topic/);
  });

  it('refuses a bad severity and an unknown channel, changing nothing', async () => {
    const channels = t.emulator.listChannels().length;
    await t.command(USERS.operator, 'incident declare sev9 broken');
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/severity must be sev1, sev2 or sev3/);
    await t.command(USERS.operator, 'incident update hello', OPS);
    expect(t.ephemeralTexts(USERS.operator).at(-1)).toMatch(/not an incident channel/);
    expect(t.emulator.listChannels().length).toBe(channels);
    await t.command(USERS.viewer, 'incident declare sev1 nope');
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/needs the operator role/);
  });

  it('update, sev and lead change the topic, the pinned status and the announcement', async () => {
    await t.command(USERS.operator, 'incident update Replica lag found on db-1 --status identified', room);
    expect(state().topic).toBe('SEV2 | identified | lead: operator | DB down in eu-west');
    expect(t.text(state().pins[0]!)).toContain('Replica lag found on db-1');
    await t.command(USERS.operator, 'incident sev 1', room);
    expect(state().topic).toMatch(/^SEV1 \| identified/);
    expect(t.text(t.messages(OPS).find((m) => t.text(m).includes('incident declared'))!)).toContain('SEV1 incident declared');
    await t.command(USERS.operator, `incident lead <@${USERS.approver}|approver>`, room);
    expect(state().topic).toBe('SEV1 | identified | lead: approver | DB down in eu-west');
    expect(state().members).toContain(USERS.approver);
    expect(t.text(state().pins[0]!)).toMatch(/\*Lead\*\n<@U0APPROVER1>/);
  });

  it('shows typed text as typed: an update cannot ping the channel or break the pinned status', async () => {
    await t.command(USERS.operator, 'incident update <!channel> *all* hands <https://evil.example|login>', room);
    const pinned = state().pins[0]!;
    expect(JSON.stringify(pinned.blocks)).not.toMatch(/<!channel>|<https:\/\/evil/);
    expect(JSON.stringify(pinned.blocks)).toContain('&lt;!channel&gt;');
  });

  it('resolve uploads a report listing the commands, approvals and job outcomes of the channel, with names', async () => {
    await t.command(USERS.operator, 'ping --slow 1', room);
    await t.eventually(() => t.emulator.channelMessages(room).some((m) => /Succeeded/.test(t.text(m))), 'the ping job to finish');
    await t.command(USERS.operator, 'drill', room);
    const request = await t.eventually(() => t.emulator.channelMessages(room).find((m) => t.text(m).includes('Failover drill')), 'the approval request');
    await t.click(USERS.approver, { channel: room, ts: request.ts }, 'Approve');
    await t.eventually(async () => (await t.bot.audit.latest(5)).some((e) => e.action === 'approve drill' && e.result === 'approved'), 'the approval');

    await t.command(USERS.approver, 'incident timeline', room);
    const timeline = t.ephemeralTexts(USERS.approver).at(-1)!;
    expect(timeline).toContain('operator: declared SEV2: DB down in eu-west');
    expect(timeline).toContain('operator: /autostack ping --slow 1');

    await t.command(USERS.approver, 'incident resolve Failed over to the replica', room);
    const report = t.emulator.files().find((f) => f.name.endsWith('-report.md'));
    expect(report, 'the report file').toBeDefined();
    const content = report!.content!.toString('utf8');
    expect(content).toContain('# Post-incident report: DB down in eu-west');
    expect(content).toContain('- Severity: SEV1');
    expect(content).toContain('- Lead: approver');
    expect(content).toMatch(/- Impact window: \S+ to \S+ \(/);
    expect(content).toContain('Failed over to the replica');
    expect(content).toMatch(/\| operator \| \/autostack ping --slow 1 \| ok \|/);
    expect(content).toMatch(/\| operator \| job ping \(requested by operator\) \| succeeded/);
    expect(content).toMatch(/\| operator \| approval of drill \| approval requested \|/);
    expect(content).toMatch(/\| approver \| approval of drill \| approved \|/);
    expect(content).toMatch(/operator: severity SEV2 → SEV1/);
    expect(content).toContain('## Follow-ups');
    expect(report!.shares.map((s) => s.channel)).toContain(room);
    expect(state().topic).toMatch(/^SEV1 \| resolved/);
    expect(t.messages(OPS).some((m) => t.text(m).includes('Resolved'))).toBe(true);
  });
});
