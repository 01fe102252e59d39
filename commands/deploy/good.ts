/**
 * Which recorded deploy is the "last good" one (runbook Rollback Procedure, step 1): a succeeded
 * deploy counts only after it stayed live for `deploy.goodAfter` with no firing alert for its app
 * and no rollback away from it. The release live while an alert fires is never called good.
 */
import type { DeployRecord } from '../shared/deploy-records.ts';
import { formatDuration } from '../../src/core/durations.ts';

/** A firing alert as far as this decision needs it. */
export interface FiringAlert {
  name: string;
  labels: Record<string, string>;
}

const APP_LABELS = ['app', 'app_kubernetes_io_name', 'deployment', 'service', 'job'];

/** An alert is about the app when a label names it; an alert naming no app may be about any. */
function concerns(alert: FiringAlert, app: string): boolean {
  const named = APP_LABELS.map((l) => alert.labels[l]).filter((v): v is string => Boolean(v));
  return named.length === 0 || named.includes(app);
}

export interface GoodVerdict {
  good?: DeployRecord;
  /** Newer succeeded deploys that are not (yet) good, and why. */
  notGood: Array<{ record: DeployRecord; why: string }>;
}

/** `records` newest first (as DeployRecords.recent returns them). */
export function lastGoodDeploy(records: DeployRecord[], firing: FiringAlert[], now: Date, goodAfterMs: number): GoodVerdict {
  const notGood: GoodVerdict['notGood'] = [];
  for (const [i, record] of records.entries()) {
    if (record.result !== 'succeeded') continue;
    const newer = records.slice(0, i).filter((r) => r.app === record.app);
    // Live until the next deploy of its app that went through (a rolled-back one left it live).
    const replaced = newer.filter((r) => r.result === 'succeeded').at(-1);
    const liveUntil = replaced ? Date.parse(replaced.startedAt) : now.getTime();
    const liveFor = liveUntil - Date.parse(record.finishedAt);
    const alerts = replaced ? [] : firing.filter((a) => concerns(a, record.app));
    if (alerts.length > 0) {
      notGood.push({ record, why: `live while ${alerts.map((a) => a.name).join(', ')} fires` });
    } else if (liveFor < goodAfterMs) {
      notGood.push({ record, why: replaced ? `replaced after ${formatDuration(liveFor)} (less than ${formatDuration(goodAfterMs)})` : `live for ${formatDuration(liveFor)} only; good after ${formatDuration(goodAfterMs)} without an alert` });
    } else {
      return { good: record, notGood };
    }
  }
  return { notGood };
}
