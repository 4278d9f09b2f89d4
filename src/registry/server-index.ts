// Public API of roster/registry/server: the registry's HTTP app, built and not listening, for a
// program that wires a Registry itself (startRegistry does all of this). Loads fastify and
// prom-client.
export { buildRegistryServer, type RegistryServer, type RegistryServerOptions, type RegistryServerAuthOptions, type RegistryWatchOptions } from './http/server.js';
export type { RegistryCourseOptions } from './http/course-options.js';
export { createRegistryMetrics, type RegistryMetrics, type RegistryMetricsOptions } from './metrics.js';
