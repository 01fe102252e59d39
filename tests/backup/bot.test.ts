import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupModule } from '../../commands/backup/index.ts';
import { listBackupObjects } from '../../commands/backup/objects.ts';
import { startTestBot, buttonsOf, OPS, USERS } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import { testServices } from '../harness/env.ts';
import type { TestDatabase } from '../harness/env.ts';
import type { BackupStore } from '../../commands/backup/objects.ts';
import { newStore, seededDatabase, sql } from './helpers.ts';

let t: TestBot;
let db: TestDatabase;
let store: BackupStore;

beforeAll(async () => {
  db = await seededDatabase(25);
  store = await newStore();
  t = await startTestBot({
    modules: [backupModule],
    config: { database: { url: db.url, binDir: testServices().postgres.binDir }, backup: { bucket: store.bucket } },
  });
});
afterAll(() => t?.stop());

const everything = () => t.emulator.channelMessages(OPS, { includeReplies: true }).map((m) => t.text(m));
const customers = async () => (await sql<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM customers'))[0]!.n;

describe('backup through Slack', () => {
  it('backup now, list, then a restore (requested with its row button) approved by typing the database name brings the rows back', async () => {
    await t.command(USERS.operator, 'backup now before the cleanup');
    const done = await t.eventually(() => everything().find((m) => /Backup \S+\.dump: .* in \d+s/.test(m)), 'the backup result', 30_000);
    const [backup] = await listBackupObjects(store);
    expect(backup).toBeDefined();
    expect(done).toContain(backup!.name);

    await t.command(USERS.viewer, 'backup list');
    const listed = t.lastEphemeral(USERS.viewer)!;
    expect(t.text(listed)).toContain(backup!.name);
    expect(t.text(listed)).toContain('before the cleanup');
    expect(buttonsOf(listed.blocks).map((b) => b.label)).toEqual([`Verify ${backup!.name}`, `Restore ${backup!.name}`]);

    // A row's button runs the verb for whoever clicks, with its role check: a viewer may not restore.
    await t.click(USERS.viewer, { channel: OPS, ts: listed.ts }, `Restore ${backup!.name}`);
    expect(t.ephemeralTexts(USERS.viewer).at(-1)).toMatch(/not allowed to run `backup restore`: it needs the operator role/);
    expect(t.emulator.channelMessages(OPS).some((m) => t.text(m).includes(`Restore ${backup!.name} into database`))).toBe(false);

    await t.click(USERS.operator, { channel: OPS, ts: listed.ts }, `Verify ${backup!.name}`);
    await t.eventually(() => everything().find((m) => m.includes(`Backup ${backup!.name} verified: checksum matches`)), 'the verify result', 30_000);

    // Typed without its argument, verify offers the backups that exist.
    await t.command(USERS.operator, 'backup verify');
    const picker = t.emulator.modalStack(USERS.operator).at(-1)!;
    expect(JSON.stringify(picker.blocks)).toContain(`"value":"${backup!.name}"`);

    await sql(db.url, 'DELETE FROM orders; DELETE FROM customers');
    expect(await customers()).toBe(0);

    await t.click(USERS.operator, { channel: OPS, ts: listed.ts }, `Restore ${backup!.name}`);
    const request = await t.eventually(
      () => t.emulator.channelMessages(OPS).find((m) => t.text(m).includes(`Restore ${backup!.name} into database ${db.name}`)),
      'the approval request',
    );
    await t.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    const modal = t.emulator.modalStack(USERS.approver).at(-1)!;
    const wrong = await t.emulator.submitView(t.url, { viewId: modal.id, values: { typed: { value: 'postgres' } } });
    expect(wrong.outcome).toBe('errors');
    expect(await customers()).toBe(0);

    await t.emulator.submitView(t.url, { viewId: modal.id, values: { typed: { value: db.name } } });
    await t.eventually(() => everything().find((m) => m.includes(`Restored ${backup!.name} into ${db.name}`)), 'the restore outcome', 30_000);
    expect(await customers()).toBe(25);
    // The safety backup taken before the restore holds the emptied tables.
    expect((await listBackupObjects(store)).length).toBe(2);
  });
});
