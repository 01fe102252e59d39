/**
 * Incident Response, scenario 2 (rate limiting triggered): `ratelimit top`, `ratelimit block`,
 * `ratelimit unblock`, `ratelimit blocks`, the "Block <ip>" buttons and the TTL unblock job.
 * commands/incident/index.ts includes these in the incident CommandModule.
 */
import type { ActionHandler, JobDefinition, Verb } from '../../../src/core/types.ts';
import { rateLimitUnblockJob } from '../../../jobs/ratelimit-unblock.ts';
import { rateLimitActions, rateLimitVerbs } from './verbs.ts';

export { rateLimitActions, rateLimitVerbs };
export { executeBlock, parseBlock, rateLimitTop, requestBlock } from './verbs.ts';
export { RateLimitAnalyzer } from './analyzer.ts';

export const rateLimitJobs: JobDefinition<any>[] = [rateLimitUnblockJob]; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Everything of scenario 2 in one object, for modules that spread it. */
export const rateLimit: { verbs: Verb<any>[]; actions: ActionHandler[]; jobs: JobDefinition<any>[] } = { verbs: rateLimitVerbs, actions: rateLimitActions, jobs: rateLimitJobs }; // eslint-disable-line @typescript-eslint/no-explicit-any
