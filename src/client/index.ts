// Public API of roster/client.
export { RosterError } from '../protocol/errors.js';
export { RegistryClient, DEFAULT_WAIT_MS } from './registry-client.js';
export type { ChangeEvent, ClientEvents, ProviderOptions, WaitForOptions, WaitingEvent } from './registry-client.js';
export { DEFAULT_REGISTRY_URL, DEFAULT_TTL_MS, DEFAULT_FORGOTTEN_AFTER_MS, defaultLogger } from './options.js';
export { DEFAULT_REGISTER_RETRY, type RetryPolicy } from './register-retry.js';
export type { RegistryClientOptions, ResolvedClientOptions, ClientTlsOptions, Logger, Strategy, ClientProtocol, Notifications } from './options.js';
export { BODY_LIMIT_BYTES } from './handlers.js';
export type { RequestHandler } from './handlers.js';
export type { ServiceChange } from './provider-cache.js';
