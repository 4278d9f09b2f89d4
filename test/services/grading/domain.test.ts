import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averageScore, GRADE_TYPES, parseGrade, parseNewStudent, type Grade } from '../../../src/services/grading/index.js';
import { RosterError } from '../../../src/protocol/index.js';

const grade = (Score: number): Grade => ({ Title: 'Quiz', Type: 'Quiz', Score });

test('averageScore: null without grades, never NaN', () => {
  assert.equal(averageScore([]), null);
});

test('averageScore: the mean of the scores', () => {
  assert.equal(averageScore([grade(85), grade(94), grade(82)]), 87);
  assert.equal(averageScore([grade(0)]), 0);
});

test('the grade types are the course domain\'s', () => {
  assert.deepEqual(GRADE_TYPES, ['Quiz', 'Test', 'Exam']);
});

test('parseGrade: trims the title, keeps the bounds inclusive, drops unknown keys', () => {
  assert.deepEqual(parseGrade({ Title: ' Final ', Type: 'Exam', Score: 0, Weight: 2 }), { Title: 'Final', Type: 'Exam', Score: 0 });
  assert.deepEqual(parseGrade({ Title: 'x'.repeat(100), Type: 'Test', Score: 100 }).Score, 100);
});

test('parseGrade: prefers the exact Go field name over a case-insensitive match', () => {
  assert.deepEqual(parseGrade({ score: 1, Score: 2, title: 'a', Type: 'Quiz' }), { Title: 'a', Type: 'Quiz', Score: 2 });
});

test('parseGrade: non-finite scores are refused', () => {
  for (const Score of [Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => parseGrade({ Title: 'a', Type: 'Quiz', Score }), RosterError);
  }
});

test('parseNewStudent: trims and bounds both names', () => {
  assert.deepEqual(parseNewStudent({ FirstName: ' Ada', LastName: 'Lovelace ' }), { FirstName: 'Ada', LastName: 'Lovelace' });
  assert.throws(() => parseNewStudent({ FirstName: 'x'.repeat(51), LastName: 'L' }), /"FirstName" must be at most 50 characters/);
});
