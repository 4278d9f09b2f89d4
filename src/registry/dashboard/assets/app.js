// The dashboard: follows the registry's watch stream (GET /v1/watch) and redraws the page shown
// by the address's fragment on every change: the overview (#/), a service's page
// (#/service/<name>) or the whole graph (#/graph). Without a watch stream it polls GET /v1/state.
import { drawGraph } from './graph.js';
import { el } from './dom.js';
import { applyChange, applySnapshot, createModel, servicesOf } from './model.js';
import { createOverview } from './overview.js';
import { drawServicePage } from './service-page.js';

const POLL_MS = 2000;
// The stream carries changes of membership and health, not every probe: refresh the probe
// times and latencies (and the registry's own health) now and then.
const PROBE_REFRESH_MS = 5000;

const model = createModel();
const view = {
  status: document.getElementById('status'),
  revision: document.getElementById('revision'),
  version: document.getElementById('version'),
  banner: document.getElementById('banner'),
  overview: document.getElementById('overview'),
  page: document.getElementById('page'),
};
const updateOverview = createOverview(view.overview);

let renderScheduled = false;

/** Redraws at most once per frame, however many changes arrive in between. */
function render() {
  if (renderScheduled) return;
  renderScheduled = true;
  requestAnimationFrame(() => {
    renderScheduled = false;
    draw(servicesOf(model), route());
    view.revision.textContent = String(Math.max(0, model.revision));
  });
}

/** The page the fragment asks for; one that cannot be read (a bad %-escape) shows the overview. */
function route() {
  const hash = location.hash.replace(/^#/, '');
  if (hash.startsWith('/service/')) {
    const name = decoded(hash.slice('/service/'.length));
    if (name !== undefined) return { page: 'service', name };
  }
  if (hash === '/graph') return { page: 'graph' };
  return { page: 'overview' };
}

/** A fragment's text, or undefined when it is no valid %-encoding (decodeURIComponent throws). */
function decoded(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function draw(services, where) {
  view.overview.hidden = where.page !== 'overview';
  view.page.hidden = where.page === 'overview';
  if (where.page === 'overview') return updateOverview(services);
  if (where.page === 'service') return view.page.replaceChildren(drawServicePage(services, where.name));
  view.page.replaceChildren(wholeGraph(services));
}

function wholeGraph(services) {
  const back = el('a', { href: '#/', class: 'back' }, '← all services');
  const body = services.length > 0 ? el('div', { class: 'graph-box' }, drawGraph(services)) : el('p', { class: 'empty' }, 'No service is registered yet.');
  return el('section', { class: 'panel', id: 'whole-graph' }, back, el('h2', {}, 'Dependencies'), body);
}

/** The session ended (token revoked or the registry's tokens changed): say how to sign in again. */
function signedOut() {
  setStatus('signed-out', 'signed out: open /login?token=<token> again');
}

function setStatus(state, label) {
  view.status.dataset.state = state;
  view.status.textContent = label;
}

function watch() {
  const source = new EventSource('/v1/watch');
  const refresh = setInterval(() => void refreshProbes(), PROBE_REFRESH_MS);
  source.addEventListener('snapshot', (event) => {
    applySnapshot(model, JSON.parse(event.data));
    setStatus('live', 'live');
    render();
  });
  source.addEventListener('change', (event) => {
    if (applyChange(model, JSON.parse(event.data))) render();
  });
  source.addEventListener('open', () => setStatus('live', 'live'));
  source.addEventListener('error', () => {
    // CLOSED: the registry answered, but not with a stream (an older registry): EventSource
    // gives up for good. Otherwise it reconnects by itself, resuming from Last-Event-ID.
    if (source.readyState !== EventSource.CLOSED) return setStatus('reconnecting', 'reconnecting…');
    // A stream refused (401 after a revoked token) also closes it: polling then says so.
    clearInterval(refresh);
    poll();
  });
}

/** Takes GET /v1/state when it is not behind what the stream already showed. */
async function refreshProbes() {
  void showRegistryHealth();
  const state = await fetchState();
  if (state && state.revision >= model.revision) {
    applySnapshot(model, state);
    render();
  }
}

function poll() {
  setStatus('polling', `polling every ${POLL_MS / 1000} s`);
  const once = async () => {
    const state = await fetchState();
    if (state) {
      applySnapshot(model, state);
      setStatus('polling', `polling every ${POLL_MS / 1000} s`);
      render();
    } else if (view.status.dataset.state !== 'signed-out') {
      setStatus('reconnecting', 'registry unreachable');
    }
    setTimeout(once, POLL_MS);
  };
  void once();
}

async function fetchState() {
  try {
    // Same origin: the session cookie set by /login goes along (EventSource sends it too).
    const response = await fetch('/v1/state', { headers: { accept: 'application/json' }, credentials: 'same-origin' });
    if (response.status === 401) signedOut();
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

/** The version, and a banner for whatever the registry says about itself that an operator must see. */
async function showRegistryHealth() {
  try {
    const response = await fetch('/v1/health');
    const health = await response.json();
    if (health.version) view.version.textContent = `v${health.version}`;
    const warnings = registryWarnings(health);
    view.banner.hidden = warnings.length === 0;
    view.banner.replaceChildren(...warnings.map((text) => el('p', {}, text)));
  } catch {
    // Decoration: the dashboard works without it.
  }
}

/** Warnings from GET /v1/health; fields the registry does not report yet simply add none. */
function registryWarnings(health) {
  const warnings = [];
  const preserving = health.selfPreservation;
  if (preserving?.active) {
    const since = preserving.since ? ` since ${new Date(preserving.since).toLocaleTimeString()}` : '';
    warnings.push(`Self-preservation${since}: too many instances failed at once, so the registry suspects itself and holds their removal. ${text(preserving.reason)}`.trim());
  }
  if (health.status === 'stopping') warnings.push('The registry is shutting down.');
  if (health.role === 'follower' && health.leader === null) warnings.push('No leader is elected: the catalog cannot change until one is.');
  return warnings;
}

function text(value) {
  return typeof value === 'string' ? value : '';
}

window.addEventListener('hashchange', () => {
  render();
  window.scrollTo(0, 0);
});
void showRegistryHealth();
render();
watch();
