// The portal's way to the grading service: through whichever instances the registry lists right
// now, each request with a timeout, moving on to another instance when one fails.
import { Agent, request } from 'undici';
import { z } from 'zod';
import { durationMs, resolveOptions, withMethods } from '../../shared/options.js';
import { errorFromAnswer, internal, invalidRequest, noProvider, notFound, type RosterError } from '../../protocol/errors.js';
import type { Grade, NewStudent } from '../grading/domain.js';
import { GRADING_SERVICE } from '../names.js';

export const DEFAULT_GRADING_TIMEOUT_MS = 5_000;

/** What the gateway needs of a RegistryClient. */
export interface GradingProviders {
  /** A passing instance URL; throws RosterError NO_PROVIDER when there is none. */
  provider(service: string): string;
  providers(service: string): string[];
}

// Answers are checked leniently: a course grading service may store types the domain lacks, and
// Go writes an empty grade list as null.
const gradeRecord = z.object({ Title: z.string(), Type: z.string(), Score: z.number() });
const studentRecord = z.object({
  ID: z.number().int(),
  FirstName: z.string(),
  LastName: z.string(),
  Grades: z
    .array(gradeRecord)
    .nullish()
    .transform((grades) => grades ?? []),
});

export type GradeRecord = z.output<typeof gradeRecord>;
export type StudentRecord = z.output<typeof studentRecord>;

/**
 * Errors are RosterErrors: NO_PROVIDER when no instance could answer, INVALID_REQUEST (a 400
 * of the grading service, with its message), NOT_FOUND (its 404), INTERNAL for anything else.
 */
export interface GradingGateway {
  listStudents(): Promise<StudentRecord[]>;
  getStudent(id: number): Promise<StudentRecord>;
  addGrade(id: number, grade: Grade): Promise<GradeRecord>;
  addStudent(student: NewStudent): Promise<StudentRecord>;
}

export interface HttpGradingGateway extends GradingGateway {
  /** Frees the sockets. Idempotent. */
  close(): Promise<void>;
}

const gradingGatewayOptionsSchema = z.strictObject({
  client: withMethods<GradingProviders>(['provider', 'providers'], 'a RegistryClient'),
  /** Per attempt: connecting, waiting for the answer and reading it. */
  timeoutMs: durationMs(1).default(DEFAULT_GRADING_TIMEOUT_MS),
});

export type GradingGatewayOptions = z.input<typeof gradingGatewayOptionsSchema>;

type Method = 'GET' | 'POST';

/** Why an instance did not give a usable answer; `delivered` when it may have acted on the request. */
interface Failure {
  reason: string;
  delivered: boolean;
}

type Attempt = { ok: true; status: number; body: unknown } | { ok: false; failure: Failure };

export function createGradingGateway(options: GradingGatewayOptions): HttpGradingGateway {
  const { client, timeoutMs } = resolveOptions(gradingGatewayOptionsSchema, options, { owner: 'createGradingGateway' });
  const http = new GradingHttp(client, timeoutMs);
  return {
    listStudents: async () => parseAnswer(z.array(studentRecord), await http.call('GET', '/students')),
    getStudent: async (id) => parseAnswer(studentRecord, await http.call('GET', `/students/${id}`)),
    addGrade: async (id, grade) => parseAnswer(gradeRecord, await http.call('POST', `/students/${id}/grades`, grade)),
    addStudent: async (student) => parseAnswer(studentRecord, await http.call('POST', '/students', student)),
    close: () => http.close(),
  };
}

class GradingHttp {
  readonly #client: GradingProviders;
  readonly #timeoutMs: number;
  readonly #agent: Agent;
  #closing: Promise<void> | null = null;

  constructor(client: GradingProviders, timeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
    this.#agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  }

  /** The parsed 2xx body; tries the next instance while a retry cannot store anything twice. */
  async call(method: Method, path: string, body?: unknown): Promise<unknown> {
    const failures: string[] = [];
    for (const url of this.#candidates()) {
      const attempt = await this.#attempt(url, method, path, body);
      if (attempt.ok) return answerBody(url, attempt.status, attempt.body);
      failures.push(`${url}: ${attempt.failure.reason}`);
      // A POST that may have reached the service is not sent again: the grade could be stored twice.
      if (method === 'POST' && attempt.failure.delivered) throw uncertainWrite(failures);
    }
    throw noProvider(`no instance of ${GRADING_SERVICE} could answer (${failures.join('; ')})`);
  }

  close(): Promise<void> {
    this.#closing ??= this.#agent.close();
    return this.#closing;
  }

  /** The instance the client's strategy picks first, then the others it lists. Throws NO_PROVIDER. */
  #candidates(): string[] {
    const first = this.#client.provider(GRADING_SERVICE);
    return [first, ...this.#client.providers(GRADING_SERVICE).filter((url) => url !== first)];
  }

  async #attempt(url: string, method: Method, path: string, body: unknown): Promise<Attempt> {
    try {
      const response = await request(url + path, {
        method,
        dispatcher: this.#agent,
        signal: AbortSignal.timeout(this.#timeoutMs),
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      const text = await response.body.text();
      if (response.statusCode >= 500) return { ok: false, failure: serverFailure(response.statusCode, text) };
      return { ok: true, status: response.statusCode, body: parseJson(text) };
    } catch (error) {
      return { ok: false, failure: transportFailure(error, this.#timeoutMs) };
    }
  }
}

/** 2xx: the body; 400 and 404 become errors the portal shows; other statuses are our bugs. */
function answerBody(url: string, status: number, body: unknown): unknown {
  if (status >= 200 && status < 300) return body;
  const error = errorFromAnswer({ status, body, from: `${GRADING_SERVICE} at ${url}` });
  if (error.code === 'INVALID_REQUEST' || error.code === 'NOT_FOUND') throw error;
  // The course's grading service answers with a bare status: its 400 and 404 mean the same.
  if (status === 400) throw invalidRequest(messageOf(body) ?? 'the grading service refused the request');
  if (status === 404) throw notFound(messageOf(body) ?? 'the grading service has no such student');
  throw internal(error.code === 'REGISTRY_ERROR' ? error.message : `${GRADING_SERVICE} at ${url} answered HTTP ${status}: ${error.message}`, error);
}

/** A 503 comes from an instance that is starting or draining: it did not act on the request. */
function serverFailure(status: number, text: string): Failure {
  const detail = messageOf(parseJson(text)) ?? text.trim().slice(0, 200);
  return { reason: `HTTP ${status}${detail ? ` ${detail}` : ''}`, delivered: status !== 503 };
}

/** Errors raised before a connection exists: the request never left. */
const NOT_DELIVERED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

function transportFailure(error: unknown, timeoutMs: number): Failure {
  const err = error as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  const code = err.code ?? err.cause?.code;
  const timedOut = err.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
  const reason = timedOut ? `no answer within ${timeoutMs} ms` : (code ?? err.message ?? String(error));
  return { reason, delivered: code === undefined || !NOT_DELIVERED.has(code) };
}

function uncertainWrite(failures: string[]): RosterError {
  return internal(
    `the grading service failed while saving (${failures.at(-1)}); it may or may not have been saved: check the page before sending it again`,
  );
}

function parseAnswer<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw internal(`${GRADING_SERVICE} answered with data of an unexpected shape: ${z.prettifyError(parsed.error)}`);
}

function messageOf(body: unknown): string | undefined {
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && message !== '' ? message : undefined;
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return text;
  }
}

