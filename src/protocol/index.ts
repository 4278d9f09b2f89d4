export * from './course.js';
export * from './v1.js';
// The error class and codes; the factories stay inside Roster.
export { ErrorCodes, RosterError, checkOption, errorFromAnswer, isErrorCode, type ErrorAnswer, type ErrorCode } from './errors.js';
export * from './ids.js';
// Parse and check functions; the zod schemas behind them stay inside Roster.
export { LIMITS, hasControlCharacter, isValidHttpUrl, isValidServiceName, parseCourseRegistration, parsePatch, parseRegisterRequest } from './validation.js';
export * from './signature.js';
// Watch events: their types and the one parse function; the schemas stay inside Roster.
export { WATCH_CHANGE_TYPES, parseWatchEvent, type WatchChange, type WatchChangeType, type WatchEvent, type WatchSnapshot } from './watch.js';
