/**
 * Incident rooms (`incident declare|lead|update|sev|resolve|timeline`): one channel per declared
 * incident, its record in Redis, its timeline and post-incident report. commands/incident/index.ts
 * includes these verbs in the incident CommandModule.
 */
export { roomVerbs } from './verbs.ts';
