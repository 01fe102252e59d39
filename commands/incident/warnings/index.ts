/**
 * Kubernetes warnings into Slack: a watcher (one replica at a time, by a lease in Redis) that
 * posts CrashLoopBackOff, OOMKilled, ImagePullBackOff/ErrImagePull, FailedScheduling and failed
 * Jobs into kubernetes.warnings.channel, one updated thread per workload. commands/incident/index.ts
 * registers it as a background task.
 */
export { kubeWarningsTask } from './watcher.ts';
