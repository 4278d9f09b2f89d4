// Public API of the grading service.
export { buildGradingApp, GRADING_BODY_LIMIT_BYTES } from './app.js';
export type { GradingAppOptions } from './app.js';
export { averageScore, gradeSchema, newStudentSchema, parseGrade, parseNewStudent, GRADE_LIMITS, GRADE_TYPES } from './domain.js';
export type { Grade, GradeType, NewStudent, Student } from './domain.js';
export { SqliteGradeStore, DEFAULT_GRADING_DB, SAMPLE_STUDENTS, SCHEMA_VERSION } from './grade-store.js';
export type { GradeStore, SqliteGradeStoreOptions } from './grade-store.js';
export { runGradingService } from './main.js';
export type { RunGradingServiceOptions, RunningGradingService } from './main.js';
