/**
 * Every job processor. A file here binds a queue name to an area's operation (guarded work,
 * re-checked against its plan when it starts) or to an area's background task, with its retry
 * policy. The runtime registers them all; commands start them by queue name only.
 */
import type { JobDefinition } from '../src/core/types.ts';
import { backupRestoreJob } from './backup-restore.ts';
import { backupVerifyJob } from './backup-verify.ts';
import { backupJob } from './backup.ts';
import { dbMigrateJob } from './db-migrate.ts';
import { dbRestartJob } from './db-restart.ts';
import { deployJob } from './deploy.ts';
import { iamReviewJob } from './iam-review.ts';
import { iamRotateJob } from './iam-rotate.ts';
import { iamRotationJob } from './iam-rotation.ts';
import { iamSetupJob } from './iam-setup.ts';
import { pingJob } from './ping.ts';
import { rateLimitUnblockJob } from './ratelimit-unblock.ts';
import { restartJob } from './restart.ts';
import { rollbackJob } from './rollback.ts';
import { rotateJwtJob } from './rotate-jwt.ts';
import { rotateOAuthJob } from './rotate-oauth.ts';
import { rotationReminderJob } from './rotation-reminder.ts';
import { tfRestoreJob } from './tf-restore.ts';
import { tfUnlockJob } from './tf-unlock.ts';
import { triageJob } from './triage.ts';

export const allJobs: JobDefinition<any>[] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
  pingJob,
  iamSetupJob,
  iamRotateJob,
  iamRotationJob,
  iamReviewJob,
  rotateOAuthJob,
  rotateJwtJob,
  rotationReminderJob,
  rollbackJob,
  restartJob,
  dbRestartJob,
  dbMigrateJob,
  rateLimitUnblockJob,
  tfUnlockJob,
  tfRestoreJob,
  backupJob,
  backupVerifyJob,
  backupRestoreJob,
  deployJob,
  triageJob,
];
