/**
 * The Terraform commands end to end: signed slash commands through the real bot (Bolt's HTTP
 * receiver, dispatcher, approvals, BullMQ jobs) against the Slack emulator and moto.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { tfModule } from '../../commands/tf/index.ts';
import { marshalLockInfo, newLockInfo } from '../../commands/tf/lockinfo.ts';
import { awsClients } from '../harness/env.ts';
import { OPS, USERS, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import { CAPTURED, DDB_KEY, LOCKFILE_KEY, fixture, getItem, getObjectText, md5, putCapturedDynamoLock, putCapturedLockFile, putStates, tfWorld, versionIds } from './fixtures.ts';
import type { TfWorld } from './fixtures.ts';

const aws = awsClients();
let world: TfWorld;
let bot: TestBot;

beforeAll(async () => {
  world = await tfWorld(aws);
  bot = await startTestBot({ modules: [tfModule], config: { terraform: world.terraform } });
});
afterAll(() => bot?.stop());

function texts(): string[] {
  return bot.emulator.channelMessages(OPS, { includeReplies: true }).map((m) => bot.text(m));
}

/** The options of the picker the user has open (its one static select). */
function pickerOptions(user: string): { id: string; options: Array<{ label: string; value: string }> } {
  const modal = bot.emulator.modalStack(user).at(-1)!;
  const select = (modal.blocks as Array<{ block_id?: string; element?: { type: string; options?: Array<{ text: { text: string }; value: string }> } }>).find((b) => b.block_id === 'choice')!;
  expect(select.element!.type).toBe('static_select');
  return { id: modal.id, options: select.element!.options!.map((o) => ({ label: o.text.text, value: o.value })) };
}

function approvalFor(verb: string) {
  return bot.emulator
    .channelMessages(OPS)
    .filter((m) => bot.text(m).includes(`asks to run \`${verb}\``))
    .at(-1);
}

describe('tf commands through the bot', () => {
  it('tf lock answers a viewer with the lock as Terraform wrote it', async () => {
    await putStates(world, DDB_KEY, ['state-serial1.tfstate', 'state-serial2.tfstate']);
    await putCapturedDynamoLock(world);
    await bot.command(USERS.viewer, 'tf lock default');
    const answer = bot.ephemeralTexts(USERS.viewer).at(-1)!;
    expect(answer).toContain('locked by *root@vm*');
    expect(answer).toMatch(new RegExp(`\\*Lock ID\\*\\s+${CAPTURED.ddbLockId}`));
    expect(answer).toMatch(/\*Operation\*\s+OperationTypeApply/);
    expect(answer).not.toContain('-md5');
  });

  it('tf unlock: an operator asks, an approver approves, the job removes exactly that lock', async () => {
    await bot.command(USERS.operator, 'tf unlock default');
    const request = await bot.eventually(() => approvalFor('tf unlock'), 'the approval request');
    const shown = bot.text(request);
    expect(shown).toContain(`remove lock ${CAPTURED.ddbLockId} held by root@vm for OperationTypeApply since 2026-11-28 20:23:04 UTC`);
    // Plan steps sit in a code block wrapped to a phone's 80 characters.
    expect(shown.replace(/\s+/g, ' ')).toContain(`Leave Terraform's checksum item LockID "${world.bucket}/${DDB_KEY}-md5" untouched`);

    await bot.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    await bot.eventually(() => texts().some((t) => t.includes(`Removed the lock ${CAPTURED.ddbLockId} from Terraform state "default"`)), 'the job result');
    expect(await getItem(world, `${world.bucket}/${DDB_KEY}`)).toBeUndefined();
    expect((await getItem(world, `${world.bucket}/${DDB_KEY}-md5`))?.Digest?.S).toBe(md5(fixture('state-serial2.tfstate')));
  });

  it('tf unlock: a lock replaced before the approval is not removed; the request is asked again', async () => {
    await putCapturedDynamoLock(world);
    await bot.command(USERS.operator, 'tf unlock default');
    const request = await bot.eventually(() => approvalFor('tf unlock'), 'the approval request');
    const lockId = `${world.bucket}/${DDB_KEY}`;
    await world.dynamodb.send(new DeleteItemCommand({ TableName: world.table, Key: { LockID: { S: lockId } } }));
    const fresh = marshalLockInfo(newLockInfo({ operation: 'OperationTypeApply', who: 'ci@runner-3', path: lockId, version: '1.11.4', now: new Date() }));
    await world.dynamodb.send(new PutItemCommand({ TableName: world.table, Item: { LockID: { S: lockId }, Info: { S: fresh } } }));

    await bot.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    await bot.eventually(() => bot.emulator.channelMessages(OPS).some((m) => m.ts !== request.ts && bot.text(m).includes('held by ci@runner-3')), 'the new request');
    expect(bot.text(bot.emulator.channelMessages(OPS).find((m) => m.ts === request.ts)!)).toContain('Superseded');
    expect((await getItem(world, lockId))?.Info?.S).toBe(fresh);
    await world.dynamodb.send(new DeleteItemCommand({ TableName: world.table, Key: { LockID: { S: lockId } } }));
  });

  it('tf unlock: a lock released before the approval closes the request for everyone', async () => {
    await putCapturedDynamoLock(world);
    await bot.command(USERS.operator, 'tf unlock default');
    const request = await bot.eventually(() => approvalFor('tf unlock'), 'the approval request');
    const lockId = `${world.bucket}/${DDB_KEY}`;
    // Terraform finished and released its lock while the request waited.
    await world.dynamodb.send(new DeleteItemCommand({ TableName: world.table, Key: { LockID: { S: lockId } } }));

    await bot.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    const closed = bot.emulator.channelMessages(OPS).find((m) => m.ts === request.ts)!;
    expect(bot.text(closed)).toMatch(/Closed: it can no longer run \(No lock is held on Terraform state "default"/);
    expect(bot.text(closed)).not.toMatch(/\[Approve\]|\[Reject\]/);
    const notice = bot.emulator.thread(OPS, request.ts).find((m) => m.text.includes('can no longer run'));
    expect(notice?.text).toContain(`<@${USERS.operator}>`);
    expect(bot.ephemeralTexts(USERS.approver).at(-1)).toMatch(/Closed `tf unlock`: No lock is held/);
    const id = /request ([a-f0-9]{16})/.exec(bot.text(closed))![1]!;
    expect(await bot.bot.jobs.queue.getJob(`approval-${id}`)).toBeUndefined();
  });

  it('tf restore: approved, the thread ends with the new current version and the undo command', async () => {
    const ids = await putStates(world, DDB_KEY, ['state-serial3.tfstate']);
    const versions = await versionIds(world, DDB_KEY);
    const target = versions.versions.find((v) => v !== ids[0])!;
    await bot.command(USERS.operator, `tf restore ${target}`);
    const request = await bot.eventually(() => approvalFor('tf restore'), 'the approval request');
    expect(bot.text(request)).toContain(`current ${ids[0]} (serial 3, lineage ${CAPTURED.lineage}) → version ${target}`);
    await bot.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    const result = await bot.eventually(() => texts().find((t) => t.includes('Undo (makes the replaced version current again)')), 'the restore result');
    const current = await getObjectText(world, DDB_KEY);
    expect(result).toMatch(new RegExp(`\\*New current version\\*\\s+${current?.versionId}`));
    expect(result).toContain(`/autostack tf restore ${ids[0]} default`);
    expect((await getItem(world, `${world.bucket}/${DDB_KEY}-md5`))?.Digest?.S).toBe(md5(current!.body));
  });

  it('tf versions: a row\'s Restore button requests tf restore for the clicker, through its usual role check and approval', async () => {
    await putStates(world, DDB_KEY, ['state-serial3.tfstate']);
    const versions = await versionIds(world, DDB_KEY);
    const older = versions.versions[1]!;
    await bot.command(USERS.viewer, 'tf versions default');
    const listing = bot.lastEphemeral(USERS.viewer)!;
    expect(bot.text(listing)).toContain(`[Restore ${older.slice(0, 12)}`);
    await bot.click(USERS.viewer, { channel: OPS, ts: listing.ts }, new RegExp(`^Restore ${older.slice(0, 12).replace(/[.+]/g, '\\$&')}`));
    expect(bot.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/not allowed to run `tf restore`: it needs the operator role and you are viewer/);

    const before = bot.emulator.channelMessages(OPS).length;
    await bot.command(USERS.operator, 'tf versions default');
    const mine = bot.lastEphemeral(USERS.operator)!;
    await bot.click(USERS.operator, { channel: OPS, ts: mine.ts }, new RegExp(`^Restore ${older.slice(0, 12).replace(/[.+]/g, '\\$&')}`));
    const request = await bot.eventually(() => bot.emulator.channelMessages(OPS).slice(before).find((m) => bot.text(m).includes('asks to run `tf restore`')), 'the approval request');
    expect(bot.text(request)).toContain(`<@${USERS.operator}> asks to run`);
    expect(bot.text(request)).toContain(`→ version ${older}`);
    await bot.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Reject');
  });

  it('tf restore: a malformed version ID is refused with usage, nothing is asked', async () => {
    const before = bot.emulator.channelMessages(OPS).length;
    await bot.command(USERS.operator, 'tf restore "abc def"');
    expect(bot.ephemeralTexts(USERS.operator).at(-1)).toContain('is not an S3 version ID');
    expect(bot.emulator.channelMessages(OPS)).toHaveLength(before);
  });

  it('tf unlock typed without a state opens a picker of the locks held now; the pick requests that unlock; with none held it says so', async () => {
    await putCapturedDynamoLock(world);
    await putCapturedLockFile(world);
    const modals = bot.emulator.calls('views.open').length;
    await bot.command(USERS.viewer, 'tf unlock');
    expect(bot.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/not allowed to run `tf unlock`: it needs the operator role/);
    expect(bot.emulator.calls('views.open')).toHaveLength(modals);

    await bot.command(USERS.operator, 'tf unlock');
    const picker = pickerOptions(USERS.operator);
    // "both" holds no lock, so it is not offered.
    expect(picker.options.map((o) => o.value)).toEqual(['default', 'lockfile']);
    for (const option of picker.options) expect(option.label).toMatch(new RegExp(`^${option.value}: locked by root@vm for OperationTypeApply, \\d+d \\d+h old$`));
    const before = bot.emulator.channelMessages(OPS).length;
    await bot.emulator.submitView(bot.url, { viewId: picker.id, values: { choice: { value: 'lockfile' } } });
    await bot.bot.dispatcher.settled();
    const request = await bot.eventually(() => bot.emulator.channelMessages(OPS).slice(before).find((m) => bot.text(m).includes('asks to run `tf unlock`')), 'the approval request');
    expect(bot.text(request)).toContain(`remove lock ${CAPTURED.lockfileLockId} held by root@vm`);
    await bot.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Reject');

    await world.dynamodb.send(new DeleteItemCommand({ TableName: world.table, Key: { LockID: { S: `${world.bucket}/${DDB_KEY}` } } }));
    await world.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: `${LOCKFILE_KEY}.tflock` }));
    const opened = bot.emulator.calls('views.open').length;
    await bot.command(USERS.operator, 'tf unlock');
    expect(bot.ephemeralTexts(USERS.operator).at(-1)).toContain('No Terraform state is locked: read just now for default, lockfile, both (DynamoDB lock items and S3 lock files). Nothing to unlock.');
    expect(bot.emulator.calls('views.open')).toHaveLength(opened);
  });

  it('tf restore typed without a version opens a picker of the earlier versions S3 keeps; the pick requests that restore', async () => {
    await bot.command(USERS.operator, 'tf restore');
    const picker = pickerOptions(USERS.operator);
    const { versions } = await versionIds(world, DDB_KEY);
    const earlier = versions.slice(1);
    // The other states have no object in the bucket: only "default" has versions to offer.
    expect(picker.options).toHaveLength(Math.min(5, earlier.length));
    for (const option of picker.options) {
      const [id, state] = option.value.split(' ');
      expect(state).toBe('default');
      expect(earlier).toContain(id);
      expect(option.label).toMatch(/^default: serial \d+, \d{4}-\d\d-\d\d \d\d:\d\d UTC, version /);
    }
    const chosen = picker.options[0]!.value.split(' ')[0]!;
    const before = bot.emulator.channelMessages(OPS).length;
    await bot.emulator.submitView(bot.url, { viewId: picker.id, values: { choice: { value: picker.options[0]!.value } } });
    await bot.bot.dispatcher.settled();
    const request = await bot.eventually(() => bot.emulator.channelMessages(OPS).slice(before).find((m) => bot.text(m).includes('asks to run `tf restore`')), 'the approval request');
    expect(bot.text(request)).toContain(`→ version ${chosen}`);
    await bot.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Reject');
  });

  it('tf versions typed without a state opens a picker of the states as S3 has them; a pick is checked like typing; an unknown state names the known ones', async () => {
    await bot.command(USERS.viewer, 'tf versions');
    const picker = pickerOptions(USERS.viewer);
    expect(picker.options.map((o) => o.value)).toEqual(['default', 'lockfile', 'both']);
    expect(picker.options[0]!.label).toMatch(/^default: serial \d+, written \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    expect(picker.options[1]!.label).toBe('lockfile: no state object yet');

    const forged = await bot.emulator.submitView(bot.url, { viewId: picker.id, values: { choice: { value: 'prod' } } });
    expect(forged.outcome).toBe('errors');
    expect(JSON.stringify(forged.errors)).toContain('unknown Terraform state \\"prod\\" (configured: default, lockfile, both)');

    await bot.emulator.submitView(bot.url, { viewId: picker.id, values: { choice: { value: 'default' } } });
    await bot.bot.dispatcher.settled();
    expect(bot.ephemeralTexts(USERS.viewer).at(-1)).toContain(`*default*: s3://${world.bucket}/${DDB_KEY}`);

    await bot.command(USERS.viewer, 'tf versions prod');
    expect(bot.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/unknown Terraform state "prod" \(configured: default, lockfile, both\).*Usage: `\/autostack tf versions \[state\] \[n\]`/s);
  });
});
