// The teacher portal's HTTP app (not listening): server-rendered pages over the grading service,
// and a System page over the registry and the log service. Templates escape every value unless
// a template asks for raw output (only the layout does, for the page it wraps).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import cookie from '@fastify/cookie';
import csrfProtection from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import { Eta } from 'eta';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { z } from 'zod';
import { RosterError } from '../../protocol/index.js';
import { GRADE_LIMITS, GRADE_TYPES, gradeSchema, newStudentSchema } from '../grading/domain.js';
import type { GradeRecord, GradingGateway, StudentRecord } from './grading-gateway.js';
import type { LogEntryRecord, SystemGateway } from './system-gateway.js';
import { faviconRoutes } from './favicon.js';
import { forbidden, invalidConfigFile, notFound } from '../../protocol/errors.js';

export interface PortalAppOptions {
  grading: GradingGateway;
  system: SystemGateway;
  /** A pino logger: added grades and students, and failures, are logged through it. Default: none. */
  logger?: FastifyServerOptions['loggerInstance'];
}

/** A form post is a few hundred bytes. */
export const PORTAL_BODY_LIMIT_BYTES = 16 * 1024;
/**
 * The cookie holding the form secret. Cookies are shared by every port of a host, so the name is
 * the portal's own rather than the plugin's generic "_csrf".
 */
export const CSRF_COOKIE = 'roster_portal_csrf';
/** The hidden form field carrying the token (the plugin's default field). */
export const CSRF_FIELD = '_csrf';
/** How many log entries the System page shows. */
export const SYSTEM_LOG_LIMIT = 50;

/**
 * Beside this module in src/ (tsx) and in dist/ (compiled): the build copies
 * src/services/portal/views/ to dist/services/portal/views/.
 */
export const PORTAL_VIEWS_DIR = fileURLToPath(new URL('./views/', import.meta.url));

type Render = (reply: FastifyReply, status: number, view: string, data: object) => FastifyReply;

interface Deps {
  grading: GradingGateway;
  system: SystemGateway;
  render: Render;
}

/** What a form shows: the entered values, a message per bad field, and the lines of its alert. */
interface FormState {
  values: Record<string, string>;
  errors: Record<string, string>;
  problems: string[];
}

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

const STUDENT_FIELDS = { FirstName: 'First name', LastName: 'Last name' } as const;
const GRADE_FIELDS = { Title: 'Title', Type: 'Type', Score: 'Score' } as const;

export function buildPortalApp(options: PortalAppOptions): FastifyInstance {
  const render = createRenderer();
  const app = Fastify({
    bodyLimit: PORTAL_BODY_LIMIT_BYTES,
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // The log service gets what teachers did and what failed, not a line per page view.
    logController: new LogController({ disableRequestLogging: true }),
    // A path that does not decode is refused before routing: with the error page, not fastify's JSON.
    frameworkErrors: (error, request, reply) => void sendErrorPage(render, error, request, reply),
  });
  const deps: Deps = { grading: options.grading, system: options.system, render };
  app.register(formbody, { bodyLimit: PORTAL_BODY_LIMIT_BYTES });
  registerFormProtection(app);
  app.setErrorHandler((error, request, reply) => sendErrorPage(render, error, request, reply));
  app.setNotFoundHandler((request, reply) => render(reply, 404, 'error', notFoundPage(`There is no page at ${pathOf(request)}.`)));

  faviconRoutes(app);
  app.get('/', async (_request, reply) => reply.redirect('/students', 303));
  gradeBookRoutes(app, deps);
  studentRoutes(app, deps);
  app.get('/system', async (_request, reply) => showSystem(deps, reply));
  return app;
}

/**
 * Every form post carries a token tied to a secret in a cookie of the portal's own: a page of
 * another origin cannot read it, so it cannot forge a post. The cookie is signed with a key made
 * at start (a value planted from another port of this host is refused) and is SameSite=Strict:
 * the post → 303 → page flow is same-site, so Strict costs nothing. A browser that says the post
 * comes from another origin (Sec-Fetch-Site) is refused before the token is even looked at.
 */
function registerFormProtection(app: FastifyInstance): void {
  app.register(cookie, { secret: randomBytes(32).toString('base64url') });
  app.register(csrfProtection, {
    cookieKey: CSRF_COOKIE,
    cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true, signed: true, secure: 'auto' },
    getToken: (request) => formToken(request.body),
  });
  // One guard for every route that takes a body: a new form is protected without asking.
  app.after(() => {
    app.addHook('preValidation', async (request) => {
      if (!isSafe(request.method) && !fromOwnPages(request.headers['sec-fetch-site'])) throw csrfRefused();
    });
    app.addHook('preValidation', (request, reply, done) => (isSafe(request.method) ? done() : app.csrfProtection(request, reply, done)));
  });
  // Nor may another site frame the portal's pages and steer a teacher's clicks.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Content-Security-Policy', "frame-ancestors 'none'");
  });
}

function isSafe(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** Sec-Fetch-Site, sent by current browsers: a post from a page of the portal is same-origin. */
function fromOwnPages(site: string | string[] | undefined): boolean {
  return site === undefined || site === 'same-origin' || site === 'none';
}

function formToken(body: unknown): string | undefined {
  const value = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[CSRF_FIELD] : undefined;
  return firstString(value) || undefined;
}

function csrfRefused(): RosterError {
  return forbidden('the browser says this form post comes from another site');
}

/** The plugin's refusals (no secret cookie, a missing or wrong token) and the cross-site one above. */
function isFormRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return (typeof code === 'string' && code.startsWith('FST_CSRF_')) || hasCode(error, 'FORBIDDEN');
}

function createRenderer(): Render {
  if (!existsSync(join(PORTAL_VIEWS_DIR, 'layout.eta'))) {
    throw invalidConfigFile(`the portal's templates are missing from ${PORTAL_VIEWS_DIR}: copy src/services/portal/views/ there when building`);
  }
  // autoEscape is Eta's default; stated here because the portal's safety depends on it.
  const eta = new Eta({ views: PORTAL_VIEWS_DIR, autoEscape: true, cache: true });
  return (reply, status, view, data) => reply.code(status).type('text/html; charset=utf-8').send(eta.render(`./${view}`, data));
}

function gradeBookRoutes(app: FastifyInstance, deps: Deps): void {
  app.get('/students', async (_request, reply) => showGradeBook(deps, reply, 200, blankForm()));
  app.post('/students', async (request, reply) => {
    const values = formValues(request.body, STUDENT_FIELDS);
    const parsed = newStudentSchema.safeParse(values);
    if (!parsed.success) return showGradeBook(deps, reply, 400, invalidForm(values, parsed.error, STUDENT_FIELDS));
    const outcome = await unlessRefused(deps.grading.addStudent(parsed.data));
    if ('refused' in outcome) return showGradeBook(deps, reply, 400, refusedForm(values, outcome.refused));
    const { ID, FirstName, LastName } = outcome.value;
    app.log.info({ studentId: ID }, `added student ${ID} (${FirstName} ${LastName})`);
    return reply.redirect(`/students/${ID}`, 303);
  });
}

function studentRoutes(app: FastifyInstance, deps: Deps): void {
  app.get('/students/:id', async (request: IdRequest, reply) => showStudent(deps, reply, 200, studentId(request.params.id), blankForm({ Type: GRADE_TYPES[0] })));
  app.post('/students/:id/grades', async (request: IdRequest, reply) => {
    const id = studentId(request.params.id);
    const values = formValues(request.body, GRADE_FIELDS);
    const parsed = gradeSchema.safeParse({ ...values, Score: scoreOf(values.Score ?? '') });
    if (!parsed.success) return showStudent(deps, reply, 400, id, invalidForm(values, parsed.error, GRADE_FIELDS));
    const outcome = await unlessRefused(deps.grading.addGrade(id, parsed.data));
    if ('refused' in outcome) return showStudent(deps, reply, 400, id, refusedForm(values, outcome.refused));
    const { Title, Type, Score } = outcome.value;
    app.log.info({ studentId: id, grade: outcome.value }, `added grade "${Title}" (${Type}, ${Score}) for student ${id}`);
    return reply.redirect(`/students/${id}`, 303);
  });
}

async function showGradeBook(deps: Deps, reply: FastifyReply, status: number, form: FormState): Promise<FastifyReply> {
  const students = (await deps.grading.listStudents()).map(studentRow);
  return deps.render(reply, status, 'students', { title: 'Grade Book', nav: 'students', students, form, limits: GRADE_LIMITS, csrf: reply.generateCsrf() });
}

async function showStudent(deps: Deps, reply: FastifyReply, status: number, id: number, form: FormState): Promise<FastifyReply> {
  const student = await findStudent(deps.grading, id);
  const view = { ...studentRow(student), grades: student.Grades };
  return deps.render(reply, status, 'student', { title: view.name, nav: 'students', student: view, gradeTypes: GRADE_TYPES, form, limits: GRADE_LIMITS, csrf: reply.generateCsrf() });
}

/** Both parts are read at once; a part that fails is reported on the page instead of failing it. */
async function showSystem(deps: Deps, reply: FastifyReply): Promise<FastifyReply> {
  const [services, logs] = await Promise.allSettled([deps.system.services(), deps.system.recentLogs(SYSTEM_LOG_LIMIT)]);
  return deps.render(reply, 200, 'system', {
    title: 'System',
    nav: 'system',
    services: settledList(services, (list) => list.map(serviceSection)),
    logs: settledList(logs, (list) => list.map(logRow)),
  });
}

async function findStudent(grading: GradingGateway, id: number): Promise<StudentRecord> {
  try {
    return await grading.getStudent(id);
  } catch (error) {
    if (hasCode(error, 'NOT_FOUND')) throw notFound(`There is no student with ID ${id}.`);
    throw error;
  }
}

/** Ids are what the grading service accepts: digits only. Anything else is a page that does not exist. */
function studentId(raw: string): number {
  const id = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(id)) throw notFound(`There is no student with ID "${raw}".`);
  return id;
}

function studentRow(student: StudentRecord) {
  return {
    href: `/students/${student.ID}`,
    name: `${student.LastName}, ${student.FirstName}`,
    gradeCount: student.Grades.length,
    average: formatAverage(student.Grades),
  };
}

/**
 * "87.0%", or "—" with no grades. The domain's averageScore takes its own Grade type; records
 * from a course grading service may carry other grade types, so the mean is taken here.
 */
export function formatAverage(grades: readonly GradeRecord[]): string {
  if (grades.length === 0) return '—';
  const mean = grades.reduce((sum, grade) => sum + grade.Score, 0) / grades.length;
  return `${mean.toFixed(1)}%`;
}

// ---- forms

/** The named fields of a urlencoded body as strings (a repeated field keeps its first value). */
function formValues(body: unknown, fields: Record<string, string>): Record<string, string> {
  const source = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  return Object.fromEntries(Object.keys(fields).map((name) => [name, firstString(source[name])]));
}

function firstString(value: unknown): string {
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : '';
}

/** A form field is text; the schema wants a number. Blank stays missing so the message says so. */
function scoreOf(raw: string): number | undefined {
  return raw.trim() === '' ? undefined : Number(raw);
}

function blankForm(values: Record<string, string> = {}): FormState {
  return { values, errors: {}, problems: [] };
}

function invalidForm(values: Record<string, string>, error: z.ZodError, labels: Record<string, string>): FormState {
  const errors: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? '');
    errors[field] ??= `${labels[field] ?? 'The form'} ${issue.message}`;
  }
  return { values, errors, problems: Object.values(errors) };
}

function refusedForm(values: Record<string, string>, message: string): FormState {
  return { values, errors: {}, problems: [`The grading service refused it: ${message}`] };
}

/** The grading service's 400 is shown on the form; every other error goes to the error page. */
async function unlessRefused<T>(work: Promise<T>): Promise<{ value: T } | { refused: string }> {
  try {
    return { value: await work };
  } catch (error) {
    if (hasCode(error, 'INVALID_REQUEST')) return { refused: error.message };
    throw error;
  }
}

// ---- System page

type Settled<T> = { ok: true; list: T[] } | { ok: false; message: string };

function settledList<T, V>(result: PromiseSettledResult<T[]>, map: (list: T[]) => V[]): Settled<V> {
  if (result.status === 'fulfilled') return { ok: true, list: map(result.value) };
  const reason = result.reason as { message?: unknown } | undefined;
  return { ok: false, message: typeof reason?.message === 'string' ? reason.message : String(result.reason) };
}

function serviceSection(service: Awaited<ReturnType<SystemGateway['services']>>[number]) {
  return {
    name: service.name,
    passing: service.passing,
    critical: service.critical,
    requires: service.requires ?? [],
    instances: (service.instances ?? []).map((instance) => ({
      url: instance.url,
      health: instance.health,
      lastCheck: instance.lastCheckAt ? formatTime(instance.lastCheckAt) : '—',
      lastError: instance.lastError ?? '',
    })),
  };
}

function logRow(entry: LogEntryRecord): LogEntryRecord {
  return { ...entry, time: formatTime(entry.time) };
}

/** "2024-05-01 12:34:56" from an ISO time in UTC. */
function formatTime(iso: string): string {
  return typeof iso === 'string' ? iso.replace('T', ' ').slice(0, 19) : '';
}

// ---- error pages

interface ErrorPage {
  status: number;
  heading: string;
  message: string;
  retryHref?: string;
}

function sendErrorPage(render: Render, error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const page = errorPage(error, request);
  logFailure(request, page.status, error);
  // The grading service usually comes back within seconds.
  if (hasCode(error, 'NO_PROVIDER')) reply.header('Retry-After', '5');
  return render(reply, page.status, 'error', { title: page.heading, nav: '', ...page });
}

/** An unavailable grading service is expected now and then: a warning, not an error with a stack. */
function logFailure(request: FastifyRequest, status: number, error: unknown): void {
  const what = `${request.method} ${pathOf(request)} answered ${status}: ${(error as Error)?.message}`;
  if (hasCode(error, 'NO_PROVIDER')) request.log.warn(what);
  else if (status >= 500) request.log.error({ err: error }, what);
}

function errorPage(error: unknown, request: FastifyRequest): ErrorPage {
  const retryHref = request.method === 'GET' ? pathOf(request) : undefined;
  if (hasCode(error, 'NO_PROVIDER')) return unavailablePage(retryHref);
  if (hasCode(error, 'NOT_FOUND')) return notFoundPage(error.message);
  if (isFormRefusal(error)) return formRefusedPage(pathOf(request));
  if (error instanceof RosterError) return { status: 502, heading: 'The grading service failed', message: error.message, retryHref };
  const { statusCode, code } = error as FastifyError;
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) return { status: statusCode, heading: 'Bad request', message: requestProblem(code) };
  return { status: 500, heading: 'Something went wrong', message: 'The portal failed to handle this request; the details are in its log.', retryHref };
}

function unavailablePage(retryHref: string | undefined): ErrorPage {
  return {
    status: 503,
    heading: 'The grading service is unavailable',
    message: 'No grading service is answering right now, so the grade book cannot be shown or changed. This page will work again as soon as the grading service is back; nothing else needs restarting.',
    ...(retryHref ? { retryHref } : {}),
  };
}

/** Reloading the form gives it a fresh token; the link goes back to the page the form is on. */
function formRefusedPage(postedTo: string): ErrorPage {
  return {
    status: 403,
    heading: 'The form could not be accepted',
    message:
      'This form was not sent from a page of this portal that is still valid (it may be old, the portal may have restarted, or another site may have sent it). Nothing was changed. Reload the form and send it again.',
    retryHref: postedTo.replace(/\/grades$/, ''),
  };
}

function notFoundPage(message: string): ErrorPage {
  return { status: 404, heading: 'Not found', message };
}

function requestProblem(code: string | undefined): string {
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return `The form is larger than ${PORTAL_BODY_LIMIT_BYTES} bytes.`;
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'Send the form as a normal HTML form post.';
  return 'The request could not be understood.';
}

function hasCode(error: unknown, code: RosterError['code']): error is RosterError {
  return error instanceof RosterError && error.code === code;
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}
