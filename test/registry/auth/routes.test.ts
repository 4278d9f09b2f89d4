// Every route the registry serves, walked one by one: an anonymous request is refused unless the
// route is on the documented public list. A route added later is covered without editing this test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { startAuthServer, SECRETS, bearer } from './auth-server.js';

/** The public routes of docs/api.md ("Authentication"); HEAD goes with GET. */
const PUBLIC = new Set(['GET /v1', 'GET /v1/health', 'GET /login', 'HEAD /v1', 'HEAD /v1/health', 'HEAD /login']);
/** The course API: no token, but only from allowed source addresses. */
const COURSE_PATH = '/services';

interface Route {
  method: string;
  url: string;
  access: unknown;
}

function collectRoutes(app: FastifyInstance, routes: Route[]): void {
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, access: route.config?.access });
  });
}

function concrete(url: string): string {
  return url.replace(':id', 'abc').replace(':name', 'LogService');
}

test('every route declares its access, and an anonymous request is refused unless the route is public', async (t) => {
  const routes: Route[] = [];
  // Course sources that exclude loopback: the course routes must refuse this test's requests too.
  const { url } = await startAuthServer(t, { course: { sources: ['10.99.0.0/16'] } }, (app) => collectRoutes(app, routes));
  assert.ok(routes.length >= 30, `only ${routes.length} routes seen`);
  for (const expected of ['GET /v1', 'GET /v1/health', 'GET /login', 'POST /v1/instances', 'GET /v1/watch', 'GET /metrics', 'GET /', 'POST /services']) {
    assert.ok(routes.some((r) => `${r.method} ${r.url}` === expected), `${expected} was not seen`);
  }
  for (const route of routes) {
    const name = `${route.method} ${route.url}`;
    assert.ok(['public', 'read', 'register', 'admin', 'course'].includes(String(route.access)), `${name} declares no access`);
    assert.equal(route.access === 'public', PUBLIC.has(name), `${name}: access "${String(route.access)}" disagrees with the public list`);
    const answer = await request(`${url}${concrete(route.url)}`, { method: route.method as 'GET', headers: route.method === 'POST' ? { 'content-type': 'application/json' } : {}, body: route.method === 'POST' ? '{}' : undefined });
    await answer.body.dump();
    if (PUBLIC.has(name)) {
      assert.ok(answer.statusCode !== 401 && answer.statusCode !== 403, `${name} is public but answered ${answer.statusCode}`);
    } else if (route.url === COURSE_PATH) {
      assert.equal(answer.statusCode, 403, `${name} answered a source that is not allowed with ${answer.statusCode}`);
    } else {
      assert.equal(answer.statusCode, 401, `${name} answered an anonymous request with ${answer.statusCode}`);
      assert.equal(answer.headers['www-authenticate'], 'Bearer realm="roster"', name);
    }
  }
});

test('a route that declares no access is refused, even to an admin', async (t) => {
  const { url } = await startAuthServer(t, {}, (app) => {
    app.register(async (scope) => {
      scope.get('/undeclared', async () => ({ secret: 'data' }));
    });
  });
  for (const headers of [{}, bearer(SECRETS.admin)]) {
    const answer = await request(`${url}/undeclared`, { headers });
    assert.equal(answer.statusCode, 403);
    assert.equal(((await answer.body.json()) as { code: string }).code, 'FORBIDDEN');
  }
});

test('an unknown path is a plain 404 to anyone', async (t) => {
  const { url } = await startAuthServer(t);
  const answer = await request(`${url}/nothing/here`);
  assert.equal(answer.statusCode, 404);
  await answer.body.dump();
});
