// The grading domain as the Go course writes it on the wire: Go's field names, no JSON tags.
import { z } from 'zod';
import { parseOrThrow } from '../../protocol/validation.js';

export const GRADE_TYPES = ['Quiz', 'Test', 'Exam'] as const;
export type GradeType = (typeof GRADE_TYPES)[number];

export interface Grade {
  Title: string;
  Type: GradeType;
  Score: number;
}

export interface Student {
  ID: number;
  FirstName: string;
  LastName: string;
  Grades: Grade[];
}

export interface NewStudent {
  FirstName: string;
  LastName: string;
}

export const GRADE_LIMITS = { titleLength: 100, nameLength: 50, minScore: 0, maxScore: 100 } as const;

/** C0 and C1 controls (NUL, tab, newline, escape, …), DEL, and the Unicode line and paragraph separators. */
const CONTROL_CHARACTER = /[\p{Cc}\u2028\u2029]/u;

/**
 * Checked on the text as sent, before trimming: a NUL or a line break never reaches the store,
 * where it would cut or split the line of every log and page that shows it.
 */
function boundedText(max: number) {
  return z
    .string()
    .refine((text) => !CONTROL_CHARACTER.test(text), 'must not contain control characters (such as a line break, a tab or NUL)')
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`);
}

/**
 * Go's decoder matches keys case-insensitively (an exact match first), so a course client may
 * send `{"title": ...}`; map such keys to Go's field names before validating.
 */
function withGoKeys<T extends z.ZodObject>(schema: T) {
  const names = Object.keys(schema.shape);
  return z.preprocess((value) => goFieldNames(value, names), schema);
}

function goFieldNames(value: unknown, names: readonly string[]): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  const entries = names.flatMap((name) => {
    const key = Object.hasOwn(value, name) ? name : keys.find((k) => k.toLowerCase() === name.toLowerCase());
    return key === undefined ? [] : [[name, (value as Record<string, unknown>)[key]]];
  });
  return Object.fromEntries(entries);
}

export const gradeSchema = withGoKeys(
  z.object({
    Title: boundedText(GRADE_LIMITS.titleLength),
    Type: z.enum(GRADE_TYPES, { error: `must be one of ${GRADE_TYPES.join(', ')}` }),
    // zod 4 numbers reject NaN and ±Infinity; strings such as "85" are refused like Go does.
    Score: z
      .number({ error: 'must be a number' })
      .min(GRADE_LIMITS.minScore, `must be at least ${GRADE_LIMITS.minScore}`)
      .max(GRADE_LIMITS.maxScore, `must be at most ${GRADE_LIMITS.maxScore}`),
  }),
);

export const newStudentSchema = withGoKeys(
  z.object({
    FirstName: boundedText(GRADE_LIMITS.nameLength),
    LastName: boundedText(GRADE_LIMITS.nameLength),
  }),
);

/** Validates a grade from a request body; throws INVALID_REQUEST naming the bad field. */
export function parseGrade(body: unknown): Grade {
  return parseOrThrow(gradeSchema, body, 'grade');
}

export function parseNewStudent(body: unknown): NewStudent {
  return parseOrThrow(newStudentSchema, body, 'student');
}

/** The mean score, or null for a student with no grades (a portal shows "no average", never NaN). */
export function averageScore(grades: readonly Grade[]): number | null {
  if (grades.length === 0) return null;
  return grades.reduce((sum, grade) => sum + grade.Score, 0) / grades.length;
}
