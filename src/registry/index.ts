export { Registry, type RegistryChange, type Logger } from './registry.js';
export { startRegistry, type RunningRegistry, type StartRegistryOptions } from './start-registry.js';
export { buildRegistryServer } from './http/server.js';
export { systemClock, type Clock } from '../shared/clock.js';
export type { RegistryOptions, RegistryOptionsInput } from './options.js';
export type { NotificationChannel } from './notify/channel.js';
export type { Prober } from './health/prober.js';
