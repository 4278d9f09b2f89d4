export * from './course.js';
export * from './v1.js';
// The error class and codes; the factories stay inside Roster.
export { ErrorCodes, RosterError, checkOption, errorFromAnswer, isErrorCode, type ErrorAnswer, type ErrorCode } from './errors.js';
export * from './ids.js';
export * from './validation.js';
export * from './signature.js';
