export * from './course.js';
export * from './v1.js';
export * from './errors.js';
export * from './ids.js';
export * from './validation.js';
export * from './signature.js';
