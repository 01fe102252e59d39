/**
 * Vitest globalSetup: starts one private Redis, PostgreSQL and moto_server per
 * test run and hands their coordinates to the test files via
 * `inject('services')` (see tests/harness/env.ts for the helpers built on it).
 */
import type { TestProject } from 'vitest/node';
import { startAllServices } from './services.ts';
import type { ServiceCoordinates } from './services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    services: ServiceCoordinates;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await startAllServices();
  project.provide('services', services.coordinates);

  // Defaults for code under test: worker processes are forked after this runs,
  // so they inherit these. Static credentials and the moto endpoint make sure
  // nothing can reach a real AWS account.
  process.env.AWS_ENDPOINT_URL = services.coordinates.awsEndpoint;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';

  return async () => {
    await services.stop();
  };
}
