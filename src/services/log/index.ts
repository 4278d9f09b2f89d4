// Public API of the log service: the file store, the HTTP app, the process entry and the logger.
export { openLogStore, FileLogStore, LOG_LEVELS, LOG_LIMITS, DEFAULT_LOG_STORE_OPTIONS, levelRank } from './log-store.js';
export type { LogEntry, LogLevel, LogStore, LogStoreOptions, RecentQuery } from './log-store.js';
export { buildLogApp, parseCourseLine } from './app.js';
export type { LogAppOptions, CourseLogOptions } from './app.js';
export { createWhoamiIdentity, writerName } from './writer-identity.js';
export type { Writer, WriterIdentity, WhoamiIdentityOptions } from './writer-identity.js';
export { DEFAULT_COURSE_SOURCES } from '../../shared/source-list.js';
export { runLogService } from './main.js';
export type { LogServiceOptions, RunningLogService } from './main.js';
export { createServiceLogger, courseLine, escapeControls } from './service-logger.js';
export type { ServiceLogger, ServiceLoggerOptions, LogProviderSource, ProviderChange, TextSink } from './service-logger.js';
