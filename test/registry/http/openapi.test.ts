// GET /v1/openapi.json against docs/api.md: the same endpoints both ways, served with the read
// scope, and the documented registration example passes the generated schema.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { registerRequestSchema } from '../../../src/protocol/validation.js';
import { openApiDocument } from '../../../src/registry/http/openapi.js';
import { startRegistry } from '../../../src/registry/start-registry.js';

const API_MD = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
const METHODS = ['get', 'post', 'put', 'delete', 'patch', 'head', 'options'];

interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown; example?: unknown }> } }>>;
  components: { schemas: Record<string, object> };
}

/** `METHOD /path` from every `###` heading of the Endpoints section, queries dropped. */
function documentedEndpoints(): string[] {
  const section = API_MD.slice(API_MD.indexOf('\n## Endpoints'), API_MD.indexOf('\n## ', API_MD.indexOf('\n## Endpoints') + 1));
  const found = new Set<string>();
  for (const heading of section.split('\n').filter((line) => line.startsWith('### '))) {
    for (const match of heading.matchAll(/`(GET|POST|PUT|DELETE|PATCH) (\/v1[^`?\s]*)[^`]*`/g)) found.add(`${match[1]} ${match[2]}`);
  }
  return [...found].sort();
}

function describedEndpoints(document: OpenApi): string[] {
  return Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).filter((key) => METHODS.includes(key)).map((method) => `${method.toUpperCase()} ${path}`)).sort();
}

/** The first ```json block after a heading that starts with `heading`. */
function exampleAfter(heading: string): unknown {
  const from = API_MD.indexOf(heading);
  assert.ok(from >= 0, `docs/api.md has "${heading}"`);
  const block = /```json\n([\s\S]*?)```/.exec(API_MD.slice(from));
  assert.ok(block?.[1], `a json example follows "${heading}"`);
  return JSON.parse(block[1]);
}

/** An Ajv for OpenAPI 3.1's JSON Schema, that knows the document's components. */
function validatorFor(document: OpenApi, schema: unknown) {
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  ajv.addSchema({ $id: 'openapi', components: document.components });
  return ajv.compile({ ...(schema as object), $id: 'request' } as object);
}

const resolveRefs = (schema: unknown): unknown => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/'));

test('every endpoint of docs/api.md is in the OpenAPI document, and nothing else', () => {
  const document = openApiDocument('0.0.0') as unknown as OpenApi;
  assert.equal(document.openapi, '3.1.0');
  const documented = documentedEndpoints();
  assert.ok(documented.length >= 10, `found ${documented.length} endpoints in docs/api.md`);
  assert.deepEqual(describedEndpoints(document), documented, 'docs/api.md and the OpenAPI document list different endpoints: describe a new one in paths() of src/registry/http/openapi.ts');
});

test('the registration examples (docs/api.md\'s and the document\'s own) pass the generated schema and the zod schema', () => {
  const document = openApiDocument('0.0.0') as unknown as OpenApi;
  const body = document.paths['/v1/instances']?.post?.requestBody?.content['application/json'];
  assert.ok(body, 'POST /v1/instances has a JSON request body');
  const example = exampleAfter('### `POST /v1/instances`');
  const validate = validatorFor(document, resolveRefs(body.schema));
  for (const [which, candidate] of [['docs/api.md', example], ['the document', body.example]] as const) {
    assert.ok(validate(candidate), `${which}: ${JSON.stringify(validate.errors)}`);
    assert.ok(registerRequestSchema.safeParse(candidate).success, `${which}: the registry takes it`);
  }
  // And the schema refuses what the registry refuses.
  assert.equal(validate({ ...(example as object), colour: 'red' }), false, 'an unknown field');
  assert.equal(validate({ url: 'http://localhost:6100' }), false, 'no service');
});

async function registry(t: TestContext) {
  const running = await startRegistry({ host: '127.0.0.1', port: 0 });
  t.after(() => running.close());
  assert.ok(running.adminToken);
  return running;
}

test('GET /v1/openapi.json serves the document with the read scope; anonymous callers are refused', async (t) => {
  const running = await registry(t);
  const anonymous = await fetch(`${running.url}/v1/openapi.json`);
  assert.equal(anonymous.status, 401);
  await anonymous.arrayBuffer();
  const served = await fetch(`${running.url}/v1/openapi.json`, { headers: { authorization: `Bearer ${running.adminToken}` } });
  assert.equal(served.status, 200);
  assert.match(served.headers.get('content-type') ?? '', /^application\/json/);
  const document = (await served.json()) as OpenApi & { info: { version: string } };
  assert.deepEqual(describedEndpoints(document), documentedEndpoints());
});

test('an instance the registry answers passes the Instance schema of the document', async (t) => {
  const running = await registry(t);
  const document = openApiDocument('0.0.0') as unknown as OpenApi;
  const headers = { authorization: `Bearer ${running.adminToken}`, 'content-type': 'application/json' };
  const registered = await fetch(`${running.url}/v1/instances`, { method: 'POST', headers, body: JSON.stringify({ service: 'Solo', url: 'http://127.0.0.1:9', ttlMs: 60_000 }) });
  assert.equal(registered.status, 201);
  const answer = await registered.json();
  const validate = validatorFor(document, { $ref: 'openapi#/components/schemas/RegisterResponse' });
  assert.ok(validate(answer), JSON.stringify(validate.errors));
});
