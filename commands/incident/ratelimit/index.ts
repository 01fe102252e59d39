/**
 * Incident Response, scenario 2 (rate limiting triggered): `ratelimit top`, `ratelimit block`,
 * `ratelimit unblock`, `ratelimit blocks` and the "Block <ip>" buttons; the TTL unblock job is
 * jobs/ratelimit-unblock.ts. commands/incident/index.ts includes these in the incident CommandModule.
 */
export { rateLimitActions, rateLimitVerbs } from './verbs.ts';
export { parseBlock, rateLimitTop } from './verbs.ts';
export { RateLimitAnalyzer } from './analyzer.ts';
