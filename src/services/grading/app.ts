// The grading service's HTTP app (not listening): the course's routes and JSON, plus adding a student.
import Fastify, { LogController, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { emptyBody, methodNotAllowed, notFound } from '../../protocol/errors.js';
import { frameworkErrors, renderErrors } from '../../shared/fastify-errors.js';
import { parseGrade, parseNewStudent, type Grade, type Student } from './domain.js';
import type { GradeStore } from './grade-store.js';

export interface GradingAppOptions {
  store: GradeStore;
  /** A pino logger: added grades and students are logged through it. Without one the app logs nothing. */
  logger?: FastifyServerOptions['loggerInstance'];
}

/** A grade or a student is a few hundred bytes; anything much larger is a mistake or an attack. */
export const GRADING_BODY_LIMIT_BYTES = 16 * 1024;

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
type Method = (typeof METHODS)[number];

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

export function buildGradingApp(options: GradingAppOptions): FastifyInstance {
  const app = Fastify({
    bodyLimit: GRADING_BODY_LIMIT_BYTES,
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // The log service gets what happened to the grade book, not a line per request.
    logController: new LogController({ disableRequestLogging: true }),
    frameworkErrors,
  });
  acceptJsonWhateverContentType(app);
  renderErrors(app, { server: 'the grading service', bodyLimitBytes: GRADING_BODY_LIMIT_BYTES, notFound: {} });
  studentRoutes(app, options.store);
  gradeRoutes(app, options.store);
  return app;
}

function studentRoutes(app: FastifyInstance, store: GradeStore): void {
  app.get('/students', async () => store.listStudents());
  app.post('/students', async (request, reply) => {
    const student = store.addStudent(parseNewStudent(jsonBody(request)));
    app.log.info({ student }, `added student ${student.ID} (${student.FirstName} ${student.LastName})`);
    return reply.code(201).send(student);
  });
  app.get('/students/:id', async (request: IdRequest) => findStudent(store, request.params.id));
  allowOnly(app, '/students', ['GET', 'HEAD', 'POST']);
  allowOnly(app, '/students/:id', ['GET', 'HEAD']);
}

function gradeRoutes(app: FastifyInstance, store: GradeStore): void {
  // The student is looked up before the body is read: an unknown one is 404 whatever the body, as in the course.
  const onRequest = async (request: IdRequest): Promise<void> => void findStudent(store, request.params.id);
  app.post('/students/:id/grades', { onRequest }, async (request: IdRequest, reply) => {
    const student = findStudent(store, request.params.id);
    const grade = store.addGrade(student.ID, parseGrade(jsonBody(request))) ?? throwUnknownStudent(request.params.id);
    logAddedGrade(app, student, grade);
    return reply.code(201).send(grade);
  });
  allowOnly(app, '/students/:id/grades', ['POST']);
}

/**
 * The course's service decodes the body as JSON whatever its Content-Type; so do we, with
 * fastify's own parser (it refuses __proto__ and constructor keys).
 */
function acceptJsonWhateverContentType(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
}

/** The student with this path id; 404 for an unknown or non-integer id, as the course answers. */
function findStudent(store: GradeStore, rawId: string): Student {
  const id = parseStudentId(rawId);
  return (id !== undefined && store.getStudent(id)) || throwUnknownStudent(rawId);
}

function parseStudentId(raw: string): number | undefined {
  const id = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  return Number.isSafeInteger(id) ? id : undefined;
}

/** The parsed body; a request without one gets the same answer as an empty JSON body. */
function jsonBody(request: FastifyRequest): unknown {
  if (request.body === undefined) throw emptyBody();
  return request.body;
}

function throwUnknownStudent(rawId: string): never {
  throw notFound(`no student with ID ${JSON.stringify(rawId)}`);
}

function logAddedGrade(app: FastifyInstance, student: Student, grade: Grade): void {
  const who = `${student.FirstName} ${student.LastName}`;
  app.log.info({ studentId: student.ID, grade }, `added grade "${grade.Title}" (${grade.Type}, ${grade.Score}) for student ${student.ID} (${who})`);
}

/** Answers every other method on `url` with 405 and the methods that do work. */
function allowOnly(app: FastifyInstance, url: string, allowed: readonly Method[]): void {
  const message = `use ${allowed.join(' or ')} on ${url}`;
  app.route({
    method: METHODS.filter((method) => !allowed.includes(method)),
    url,
    handler: async (_request, reply) => {
      reply.header('Allow', allowed.join(', '));
      throw methodNotAllowed(message);
    },
  });
}
