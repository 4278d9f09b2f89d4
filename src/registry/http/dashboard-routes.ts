// The live dashboard at `/`: a page and its plain ES modules from src/registry/dashboard/assets/
// (scripts/copy-assets.mjs copies them next to the compiled code). The page reads the registry
// over HTTP (GET /v1/watch, /v1/state) like any other client, so it needs no handle on it.
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';

export interface DashboardRoutesOptions {
  /** Where the assets are; default: ../dashboard/assets/ from this module, in src/ and in dist/. */
  assetsDir?: URL;
}

const DEFAULT_ASSETS_DIR = new URL('../dashboard/assets/', import.meta.url);

/** Served files by URL path; nothing else under /dashboard/ is reachable. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/model.js': { file: 'model.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/graph.js': { file: 'graph.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/dom.js': { file: 'dom.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/overview.js': { file: 'overview.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/service-page.js': { file: 'service-page.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/dashboard/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

// Only our own files run, and data from the registry can never become a script, even by mistake.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Small files: always revalidate, so that an upgraded registry serves its new dashboard.
  'cache-control': 'no-cache',
};

export const SIGN_IN_HEADERS = SECURITY_HEADERS;

/** Shown instead of the dashboard to a browser that has not signed in. */
export const SIGN_IN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Roster — sign in</title></head>
<body>
<h1>Roster: sign in to see the dashboard</h1>
<p>The dashboard shows the registry's catalog, which only holders of a token may read.</p>
<p>Open the link <code>roster up</code> printed, or <code>/login?token=&lt;token&gt;</code> on this
registry with a token of yours. The registry's admin token is in <code>admin.token</code> in its
data folder (<code>./data</code> by default).</p>
</body></html>
`;

/** A browser (not an API client) asking for the dashboard's page. */
export function wantsPage(method: string, url: string, accept: string | undefined): boolean {
  return method === 'GET' && url.split('?')[0] === '/' && (accept ?? '').includes('text/html');
}

export function dashboardRoutes(options: DashboardRoutesOptions = {}) {
  const assetsDir = options.assetsDir ?? DEFAULT_ASSETS_DIR;
  return async function plugin(app: FastifyInstance): Promise<void> {
    // Read once at start: a missing file fails the registry's start, not a user's page load.
    for (const [path, { file, type }] of Object.entries(ASSETS)) {
      const body = await readAsset(assetsDir, file);
      app.get(path, { config: { access: 'read' } }, async (_request, reply) => reply.headers(SECURITY_HEADERS).type(type).send(body));
    }
  };
}

async function readAsset(dir: URL, file: string): Promise<Buffer> {
  try {
    return await readFile(new URL(file, dir));
  } catch (error) {
    throw new Error(`dashboard asset ${file} is missing from ${dir.pathname}: copy src/registry/dashboard/assets/ next to the built registry (npm run build does)`, { cause: error });
  }
}
