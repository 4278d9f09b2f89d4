// The dashboard: follows the registry's watch stream (GET /v1/watch) and redraws the graph and
// the service list on every change. Without a watch stream it polls GET /v1/state instead.
import { drawGraph } from './graph.js';
import { applyChange, applySnapshot, createModel, servicesOf } from './model.js';
import { drawServices } from './services.js';

const POLL_MS = 2000;
// The stream carries changes of membership and health, not every probe: refresh the probe
// times and latencies now and then.
const PROBE_REFRESH_MS = 5000;

const model = createModel();
const view = {
  status: document.getElementById('status'),
  revision: document.getElementById('revision'),
  version: document.getElementById('version'),
  graph: document.getElementById('graph'),
  services: document.getElementById('services'),
};

let renderScheduled = false;

/** Redraws at most once per frame, however many changes arrive in between. */
function render() {
  if (renderScheduled) return;
  renderScheduled = true;
  requestAnimationFrame(() => {
    renderScheduled = false;
    const services = servicesOf(model);
    view.graph.replaceChildren(...(services.length > 0 ? [drawGraph(services)] : []));
    view.services.replaceChildren(drawServices(services));
    view.revision.textContent = String(Math.max(0, model.revision));
  });
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

async function showVersion() {
  try {
    const response = await fetch('/v1/health');
    if (response.ok) view.version.textContent = `v${(await response.json()).version}`;
  } catch {
    // The version is decoration; the dashboard works without it.
  }
}

void showVersion();
render();
watch();
