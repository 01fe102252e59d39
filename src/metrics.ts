/** Prometheus metrics of the bot itself. */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    commands: new Counter({ name: 'autostack_commands_total', help: 'Slash commands handled, by verb and result', labelNames: ['verb', 'result'], registers: [registry] }),
    denials: new Counter({ name: 'autostack_denials_total', help: 'Commands and actions denied by RBAC', labelNames: ['verb'], registers: [registry] }),
    approvals: new Counter({ name: 'autostack_approvals_total', help: 'Approval decisions', labelNames: ['verb', 'decision'], registers: [registry] }),
    jobs: new Counter({ name: 'autostack_jobs_total', help: 'Job outcomes', labelNames: ['job', 'outcome'], registers: [registry] }),
    jobDuration: new Histogram({
      name: 'autostack_job_duration_seconds',
      help: 'Job durations',
      labelNames: ['job', 'outcome'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
