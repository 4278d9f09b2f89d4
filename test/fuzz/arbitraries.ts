// The fuzz suites' generators: random and malformed methods, paths, query strings, headers and
// bodies, built around each service's routes so that most requests reach a handler rather than
// the not-found page.
import fc from 'fast-check';
import { printable, type RawRequest } from './harness.js';

/** One route of a service, as the generators see it. */
export interface RouteShape {
  /** The methods it takes; others are tried too, less often. */
  methods: readonly string[];
  /** The path, with `{name}` where a generated segment goes. */
  path: string;
  /** Values for each `{name}`: known ones are picked often, garbage the rest of the time. */
  segments?: Record<string, readonly string[]>;
  /** Query parameters the route reads. */
  query?: readonly string[];
  /** Well-formed bodies, mutated by the generators. */
  bodies?: readonly unknown[];
  /** Raw text bodies the route takes (the course's plain-text bodies). */
  texts?: readonly string[];
  /** Content types the route expects (tried besides others). */
  contentTypes?: readonly string[];
  /** Headers the route reads, with values worth trying. */
  headers?: Record<string, readonly string[]>;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'M-SEARCH'] as const;

/** Characters that reach a handler in a request target as they are (the parser takes them). */
const RAW_PATH_CHARS = ['%', '%zz', '%00', '%0a', '%2f', '%2F', '%25', '..', '.', ';', "'", '"', '<', '>', '{', '}', '|', '\\', '^', '`', '[', ']', '~', '!', '*', '(', ')', '$', '@', ':', ',', '+', '=', '&', '#', '%C3%28', '%FF'];

/** A path segment: a known value, a known value altered, or garbage. */
export function segment(known: readonly string[]): fc.Arbitrary<string> {
  const knownValue = known.length > 0 ? fc.constantFrom(...known) : fc.constant('x');
  return fc.oneof(
    { weight: 4, arbitrary: knownValue },
    { weight: 1, arbitrary: fc.tuple(knownValue, fc.constantFrom(...RAW_PATH_CHARS)).map(([value, extra]) => value + extra) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map((text) => encodeURIComponent(text)) },
    { weight: 1, arbitrary: fc.array(fc.constantFrom(...RAW_PATH_CHARS, 'a', 'Z', '0', '-', '_'), { maxLength: 12 }).map((parts) => parts.join('')) },
    { weight: 1, arbitrary: fc.constantFrom('', '0', '-1', '1e3', '99999999999999999999', 'null', 'undefined', '__proto__', 'constructor', 'a'.repeat(70), 'x'.repeat(3000)) },
  );
}

/** A query string (with its `?`), or nothing: known keys with odd values, unknown keys, odd syntax. */
export function queryString(keys: readonly string[]): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 3, arbitrary: keys.length > 0 ? fc.constantFrom(...keys) : fc.constant('q') },
    { weight: 1, arbitrary: fc.constantFrom('', '__proto__', 'constructor', 'a[b]', 'a[]', '%', '%zz', 'x'.repeat(300)) },
  );
  const value = fc.oneof(
    fc.constantFrom('', '0', '-1', '1', '100', '1001', '1e3', 'NaN', 'true', 'a,b', ',', 'LogService', 'http://127.0.0.1:1', 'javascript:alert(1)', '%', '%zz', '%00', 'x'.repeat(2100)),
    fc.string({ maxLength: 30 }).map((text) => encodeURIComponent(text)),
    fc.integer().map(String),
  );
  const pair = fc.oneof(fc.tuple(key, value).map(([k, v]) => `${k}=${v}`), key);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant('') },
    { weight: 3, arbitrary: fc.array(pair, { minLength: 1, maxLength: 4 }).map((pairs) => `?${pairs.join('&')}`) },
    { weight: 1, arbitrary: fc.constantFrom('?', '?&&', '?=', '??', '?a=1&a=2&a=3', '?%') },
  );
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'application/json;',
  'application/jsonx',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'text/html',
  '',
  ';',
  '*/*',
  'application/',
];

/** A header value: printable ASCII, as a well-framed request carries. */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 40 }).map((text) => text.trim());

/** Headers worth trying on any service; `extra` adds a route's own. */
export function headers(extra: Record<string, readonly string[]> = {}, contentTypes: readonly string[] = []): fc.Arbitrary<Array<[string, string]>> {
  const choices: Record<string, readonly string[]> = {
    'content-type': [...contentTypes, ...contentTypes, ...CONTENT_TYPES],
    accept: ['text/html', 'application/json', '*/*', 'text/event-stream', ''],
    origin: ['http://evil.example', 'null', 'http://127.0.0.1'],
    cookie: ['roster_session=x', 'roster_session=%', 'roster_session=', 'a=b; roster_session=%E0%A4%A', 'roster_portal_csrf=x', '_csrf=x'],
    'sec-fetch-site': ['cross-site', 'same-origin', 'none', 'same-site'],
    'last-event-id': ['0', '-1', 'x', '99999999999999999', '1'],
    'roster-signature': ['t=0,v1=00', `t=1,v1=${'0'.repeat(64)}`, 'garbage', ''],
    'x-roster-forwarded': ['x', ''],
    'x-roster-caller': ['{}', 'x'],
    'x-forwarded-for': ['10.0.0.1', '::1'],
    'accept-encoding': ['gzip', 'br', 'identity', 'x'],
    'if-none-match': ['*', 'x'],
    range: ['bytes=0-1', 'bytes=x'],
    expect: ['100-continue'],
    'content-encoding': ['gzip', 'deflate', 'br', 'identity', 'x'],
    ...extra,
  };
  const known = fc.constantFrom(...Object.keys(choices)).chain((name) => fc.tuple(fc.constant(name), valueOf(name, choices[name] ?? [''])));
  const unknown = fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,20}$/), headerText);
  return fc.uniqueArray(fc.oneof({ weight: 4, arbitrary: known }, { weight: 1, arbitrary: unknown }), { maxLength: 5, selector: ([name]) => name });
}

/**
 * A listed value, or any text. Not for Expect: Node itself answers 417 to an expectation it does
 * not know, before any service sees the request.
 */
function valueOf(name: string, listed: readonly string[]): fc.Arbitrary<string> {
  if (name === 'expect') return fc.constantFrom(...listed);
  return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...listed) }, { weight: 1, arbitrary: headerText });
}

/** Strings that have broken parsers and stores before: NUL, controls, escapes, long text. */
const NASTY_STRINGS = ['', ' ', '\u0000', 'a\u0000b', '\n', '\r\n', '\t', '\u001b[2J', '\u2028', '\ud800', '<script>', "'; DROP TABLE x; --", '__proto__', '%s%n', 'x'.repeat(5000), '\u00e9\u4e2d\ud83d\ude00'];

/** A JSON value that is often nasty. */
const nastyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom<unknown>(...NASTY_STRINGS, null, true, 0, -1, 1.5, 1e308, -0, Number.MAX_SAFE_INTEGER + 2, [], {}, [null], { __proto__: 1 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  // Past the documented bounds: 64 required names, 32 metadata keys and tags, 4 KiB of metadata.
  { weight: 1, arbitrary: fc.array(fc.constantFrom('Alpha', 'Beta', 'LogService', 'x', ''), { minLength: 30, maxLength: 70 }) },
  { weight: 1, arbitrary: fc.integer({ min: 30, max: 40 }).map((keys) => Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, 'v'.repeat(i * 10)]))) },
);

/** A sample object changed in one to three ways: a field set to junk, dropped, renamed or added. */
function mutated(sample: unknown): fc.Arbitrary<unknown> {
  if (typeof sample !== 'object' || sample === null || Array.isArray(sample)) return fc.constant(sample);
  const keys = [...Object.keys(sample), 'extra'];
  const mutation = fc.oneof(
    fc.tuple(fc.constant('set' as const), fc.constantFrom(...keys, '__proto__', 'constructor'), nastyJson),
    fc.tuple(fc.constant('drop' as const), fc.constantFrom(...keys), fc.constant(null)),
    fc.tuple(fc.constant('case' as const), fc.constantFrom(...keys), fc.constant(null)),
  );
  return fc.array(mutation, { minLength: 0, maxLength: 3 }).map((mutations) => {
    const copy: Record<string, unknown> = { ...(sample as Record<string, unknown>) };
    for (const [kind, key, value] of mutations) {
      if (kind === 'set') Object.defineProperty(copy, key, { value, enumerable: true, configurable: true, writable: true });
      else if (kind === 'drop') delete copy[key];
      else if (key in copy) {
        copy[key.toLowerCase() === key ? key.toUpperCase() : key.toLowerCase()] = copy[key];
        delete copy[key];
      }
    }
    return copy;
  });
}

function jsonBytes(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value) ?? 'undefined');
}

/** A request body: a sample altered, JSON of any shape, broken JSON, text, bytes, or nothing. */
export function body(samples: readonly unknown[] = [], texts: readonly string[] = []): fc.Arbitrary<Uint8Array> {
  const sample = samples.length > 0 ? fc.constantFrom(...samples) : fc.constant({});
  const text = texts.length > 0 ? fc.constantFrom(...texts) : fc.constant('');
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(new Uint8Array()) },
    { weight: 6, arbitrary: sample.chain(mutated).map(jsonBytes) },
    { weight: 2, arbitrary: fc.oneof(nastyJson, fc.array(sample, { maxLength: 3 })).map(jsonBytes) },
    { weight: 2, arbitrary: fc.tuple(text, fc.constantFrom(...NASTY_STRINGS)).map(([value, extra]) => Buffer.from(value + extra)) },
    { weight: 1, arbitrary: text.map((value) => Buffer.from(value)) },
    { weight: 1, arbitrary: sample.map((value) => Buffer.from(JSON.stringify(value).slice(0, -1))) },
    { weight: 1, arbitrary: fc.constantFrom('{', '[', '"', 'nul', '{"a":1,}', '\ufeff{}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]', 'a=1&b=2', '_csrf=x&Title=a').map((value) => Buffer.from(value)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: fc.constantFrom(17 * 1024, 300 * 1024, 1100 * 1024).map((size) => Buffer.alloc(size, '{')) },
  );
}

/** A method: mostly the route's own, sometimes any other. */
function method(own: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...own) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) });
}

/** The route's path with each `{name}` filled, sometimes altered as a whole. */
function path(route: RouteShape): fc.Arbitrary<string> {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1] as string);
  const filled = fc.tuple(...names.map((name) => segment(route.segments?.[name] ?? []))).map((values) => names.reduce((text, name, i) => text.replace(`{${name}}`, values[i] as string), route.path));
  return fc.oneof(
    { weight: 6, arbitrary: filled },
    { weight: 1, arbitrary: filled.chain((text) => fc.constantFrom(`${text}/`, `/${text}`, `${text}//`, text.toUpperCase(), `${text}/..`, `${text}/../..`, `${text}%2f`, `${text}/${'a/'.repeat(50)}`, `${text};x`, `${text}#frag`)) },
  );
}

/** A whole request to one of `routes`; `authorization` gives the Authorization values to try. */
export function request(routes: readonly RouteShape[], authorization: fc.Arbitrary<string | null>): fc.Arbitrary<RawRequest> {
  return fc.constantFrom(...routes).chain((route) =>
    fc
      .record({
        method: method(route.methods),
        path: path(route),
        query: queryString(route.query ?? []),
        headers: headers(route.headers, route.contentTypes),
        authorization,
        body: body(route.bodies, route.texts),
        chunked: fc.boolean(),
        contentType: contentType(route.contentTypes ?? []),
      })
      .map(({ method, path, query, headers, authorization, body, chunked, contentType }): RawRequest => {
        const all: Array<[string, string]> = contentType === null ? headers : [['content-type', contentType], ...headers.filter(([name]) => name !== 'content-type')];
        if (authorization !== null) all.unshift(['authorization', authorization]);
        return printable({ method, path: path + query, headers: all, body, chunked: chunked && body.length > 0 && body.length < 4096 });
      }),
  );
}

/** Mostly a content type the route takes, so that most bodies reach its handler; sometimes another, or none. */
function contentType(own: readonly string[]): fc.Arbitrary<string | null> {
  if (own.length === 0) return fc.constant(null);
  return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...own) }, { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) }, { weight: 1, arbitrary: fc.constant(null) });
}

/** Authorization values: the given good ones for about half the requests, none or garbage for the rest. */
export function authorizations(good: readonly string[]): fc.Arbitrary<string | null> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...good.map((token) => `Bearer ${token}`)) },
    { weight: 2, arbitrary: fc.constant(null) },
    { weight: 2, arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'Bearer x', `Bearer ${'a'.repeat(1100)}`, 'Basic YWRtaW46YWRtaW4=', 'bearer  x y', 'Token x', '', ...good.map((token) => `Bearer ${token}x`), ...good.map((token) => `bearer ${token}`)) },
    { weight: 1, arbitrary: headerText },
  );
}

/**
 * Bytes that are not a well-framed request: bad request lines, bad header syntax, lying lengths,
 * chunked bodies gone wrong, control characters, an HTTP/2 preface. Only "no crash" holds here.
 */
export function malformedBytes(paths: readonly string[]): fc.Arbitrary<Uint8Array> {
  const target = fc.constantFrom(...paths);
  const templates = fc.oneof(
    target.map((p) => `GET ${p} HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\nab`),
    target.map((p) => `POST ${p} HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ncontent-length: 3\r\nconnection: close\r\n\r\n{}`),
    target.map((p) => `POST ${p} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\nconnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`),
    target.map((p) => `POST ${p} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\nconnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n`),
    target.map((p) => `GET ${p} HTTP/1.1\r\nhost: x\r\nbad header\r\nconnection: close\r\n\r\n`),
    target.map((p) => `GET ${p} HTTP/1.1\r\nhost: x\r\nx-a: b\u0000c\r\nconnection: close\r\n\r\n`),
    target.map((p) => `GET ${p}\u0001 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`),
    target.map((p) => `GET ${p} HTTP/9.9\r\nhost: x\r\nconnection: close\r\n\r\n`),
    target.map((p) => `get ${p} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`),
    target.map((p) => `GET ${p} HTTP/1.0\r\n\r\n`),
    target.map((p) => `GET ${p} HTTP/1.1\r\nhost: x\r\nx-long: ${'a'.repeat(20_000)}\r\nconnection: close\r\n\r\n`),
    target.map((p) => `GET ${p} HTTP/1.1\nhost: x\nconnection: close\n\n`),
    target.map((p) => `POST ${p} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: -1\r\nconnection: close\r\n\r\n{}`),
    target.map((p) => `GET ${p} HTTP/1.1\r\nhost: x\r\n connection: close\r\n\r\n`),
    fc.constant('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
    fc.constant(`GET /${'a'.repeat(70_000)} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`),
    fc.constant('\r\n\r\n'),
  );
  return fc.oneof({ weight: 4, arbitrary: templates.map((text) => Buffer.from(text, 'latin1')) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }) });
}
