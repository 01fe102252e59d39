/**
 * Runbook Scenario 4, step 4 (`docker-compose exec backend alembic upgrade head`): a Kubernetes Job
 * from the backend's current image with the configured command and the backend's Secret as its
 * environment. Its log is streamed into the thread (redacted) and attached in full at the end.
 * Once it succeeded or failed the Job is deleted; its log stays in the thread.
 */
import ms from 'ms';
import { checkDatabase } from '../commands/incident/db.ts';
import { imageTag } from '../commands/shared/evidence.ts';
import type { JobDefinition } from '../src/core/types.ts';
import { UserFacingError } from '../src/core/types.ts';
import { runJob } from '../commands/shared/kube.ts';
import { redact } from '../commands/shared/redact.ts';
import { MigrationSteps, migrationJobLeft, ensureNoRunningMigration, migrationJob, migrationPlan, migrationSource } from '../commands/incident/migrate.ts';

export type DbMigrateData = Record<string, never>;

/** Lines posted into the thread one by one; the full log is attached as a file anyway. */
export const MAX_STREAMED_LINES = 200;
/** Lines kept for the attached file (the newest when there are more). */
export const MAX_KEPT_LINES = 20_000;

export const dbMigrateTiming = { pollMs: 1000 };

export const dbMigrateJob: JobDefinition<DbMigrateData> = {
  name: 'db-migrate',
  title: (_data) => 'Database migration',
  cancellable: false,
  onFailureNextStep: 'Read the migration log attached in this thread; fix the migration or the database, then run `/autostack db migrate` again (runbook Scenario 4, step 4).',
  replan: async (_data, run) => migrationPlan(await migrationSource(run.clients.kube(), run.config), run.config),
  async process(run) {
    const kube = run.clients.kube();
    const namespace = run.config.kubernetes.namespace;
    const source = await migrationSource(kube, run.config);
    await ensureNoRunningMigration(kube, namespace);
    const timeoutMs = ms(run.config.rollout.timeout as ms.StringValue);
    const spec = migrationJob(source, { activeDeadlineSeconds: Math.ceil(timeoutMs / 1000), requestedBy: run.requestedBy });
    const revision = async () => {
      const check = await checkDatabase(run.config.database.url);
      return check.ok ? (check.migration === undefined ? undefined : (check.migration ?? '(none)')) : undefined;
    };
    const from = await revision();
    const lines: string[] = [];
    let dropped = 0;
    let streamed = 0;
    const steps = new MigrationSteps();
    await run.step(`Starting \`${source.command.join(' ')}\` from ${source.image}…`);
    const outcome = await runJob(kube, namespace, spec, {
      // Wait a little beyond the Job's own deadline, so Kubernetes reports DeadlineExceeded itself.
      timeoutMs: timeoutMs + 60_000,
      pollMs: dbMigrateTiming.pollMs,
      signal: run.signal,
      onProgress: (message) => run.step(message),
      onLine: async (raw) => {
        const line = redact(raw);
        steps.add(line);
        lines.push(line);
        if (lines.length > MAX_KEPT_LINES) {
          lines.shift();
          dropped++;
        }
        if (streamed < MAX_STREAMED_LINES) {
          streamed++;
          await run.step(`\`${line}\``);
          if (streamed === MAX_STREAMED_LINES) await run.step('(more lines in the attached log)');
        }
      },
    });
    await run.audit.record({
      actor: run.requestedBy,
      action: 'db migrate',
      args: { image: source.image, command: source.command.join(' '), job: outcome.name },
      result: outcome.succeeded ? 'succeeded' : 'failed',
      channel: run.channel,
      detail: outcome.exitCode !== undefined ? `exit code ${outcome.exitCode}` : outcome.reason,
    });
    if (lines.length) {
      await run.attach({
        filename: `${outcome.name}.log`,
        title: `Migration log (${outcome.succeeded ? 'succeeded' : 'failed'}${outcome.exitCode !== undefined ? `, exit code ${outcome.exitCode}` : ''})`,
        content: `${dropped ? `[${dropped} earlier lines not kept]\n` : ''}${lines.join('\n')}\n`,
      });
    }
    const exit = outcome.exitCode !== undefined ? `exit code ${outcome.exitCode}` : 'no exit code';
    const revisions = steps.describe(outcome.succeeded);
    if (!outcome.succeeded) {
      const state = outcome.timedOut ? 'did not finish in time (it may still be running)' : 'failed';
      throw new UserFacingError(`The migration ${state} (${exit}${outcome.reason ? `; ${redact(outcome.reason)}` : ''}); ${revisions}. ${migrationJobLeft(outcome)}.`);
    }
    // The evidence: the revision the database reports, read before and after.
    const to = await revision();
    const moved =
      from === undefined || to === undefined
        ? `database revision not readable; its log shows ${revisions}`
        : from !== to
          ? `database ${from} → ${to}`
          : steps.upgraded
            ? // The two sources disagree: say so rather than pick one.
              `:warning: the database (database.url) still reports ${to} while its log shows ${revisions}; the Job may have migrated another database`
            : `database already at ${to}`;
    return {
      summary: `Migration succeeded: ${moved}`,
      parts: [
        { kind: 'text', text: `✓ \`${source.command.join(' ')}\` succeeded with ${exit}: ${moved}.` },
        { kind: 'fields', fields: [['Image', imageTag(source.image)], ['Job', `${outcome.name} (deleted)`], ['Log lines', String(lines.length + dropped)]] },
      ],
      visibility: 'channel',
    };
  },
};
