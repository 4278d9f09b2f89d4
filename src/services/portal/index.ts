// Public API of the teacher portal.
export { buildPortalApp, formatAverage, PORTAL_BODY_LIMIT_BYTES, PORTAL_VIEWS_DIR, SYSTEM_LOG_LIMIT } from './app.js';
export type { PortalAppOptions } from './app.js';
export { createGradingGateway, DEFAULT_GRADING_TIMEOUT_MS } from './grading-gateway.js';
export type { GradeRecord, GradingGateway, GradingGatewayOptions, GradingProviders, HttpGradingGateway, StudentRecord } from './grading-gateway.js';
export { createSystemGateway, DEFAULT_SYSTEM_TIMEOUT_MS } from './system-gateway.js';
export type { HttpSystemGateway, LogEntryRecord, SystemGateway, SystemGatewayOptions, SystemSources } from './system-gateway.js';
export { runPortalService } from './main.js';
export type { RunPortalServiceOptions, RunningPortalService } from './main.js';
