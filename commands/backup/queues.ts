/** The backup jobs commands start by name (their processors are in jobs/). */
export const BACKUP_JOB = 'backup';

export interface BackupJobData {
  trigger: 'manual' | 'schedule';
  reason?: string;
}

export const BACKUP_VERIFY_JOB = 'backup-verify';

export interface VerifyJobData {
  /** A backup name or "latest". */
  name: string;
}
