// Public API of roster/service.
export { startService } from './start-service.js';
export type { RunningService } from './start-service.js';
export type { StartServiceOptions, ServiceTlsOptions } from './config.js';
