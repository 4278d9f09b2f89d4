// One service's page (#/service/<name>): its state and problems, its upstreams (what it requires)
// and downstreams (who requires it) as links and as a graph of its neighbours only, and its
// instances. Every string from the registry goes in as text, never as markup.
import { drawGraph } from './graph.js';
import { badge, el, serviceLink, time } from './dom.js';
import { neighbourhood, problemsOf, stateOf } from './model.js';

/** The page of the service called `name`, drawn from `services` (from servicesOf). */
export function drawServicePage(services, name) {
  const service = services.find((s) => s.name === name);
  const back = el('a', { href: '#/', class: 'back' }, '← all services');
  if (!service) return el('section', { class: 'panel service-page', 'data-service': name }, back, el('h2', {}, name), el('p', { class: 'empty' }, 'No such service: not registered, and not required by any.'));
  const byName = new Map(services.map((s) => [s.name, s]));
  const problems = problemsOf(service);
  return el(
    'div',
    { class: 'service-page', 'data-service': name, 'data-state': stateOf(service) },
    el('section', { class: 'panel' },
      back,
      el('h2', {}, el('span', { class: 'name' }, name), badge(stateOf(service)), el('span', { class: 'muted counts' }, summary(service))),
      problems.length > 0 ? el('p', { class: 'problems' }, problems.join(' · ')) : null,
      el('div', { class: 'relations' }, relationList('upstreams', 'Requires', service.requires, byName), relationList('downstreams', 'Required by', service.requiredBy, byName))),
    el('section', { class: 'panel' }, el('h3', {}, 'Instances'), service.instances.length > 0 ? instanceTable(service.instances) : el('p', { class: 'empty' }, 'No instance: required, but not registered.')),
    el('section', { class: 'panel' }, el('h3', {}, 'Neighbours'), el('div', { class: 'graph-box' }, drawGraph(neighbourhood(services, name), name))),
  );
}

function summary(service) {
  return service.instances.length === 0 ? 'no instance' : `${service.passing} passing · ${service.critical} critical`;
}

function relationList(id, title, names, byName) {
  const items = names.map((other) => el('li', { 'data-service': other, 'data-state': stateOf(byName.get(other)) }, serviceLink(other), ' ', badge(stateOf(byName.get(other)))));
  return el('div', { class: 'relation', id },
    el('h3', {}, title),
    items.length > 0 ? el('ul', {}, items) : el('p', { class: 'empty' }, 'none'));
}

/**
 * Columns shown only when some instance needs them: one in maintenance, or a weight (which
 * registries of this version do not report yet).
 */
const OPTIONAL_COLUMNS = [
  { label: 'maintenance', when: (i) => Boolean(i.maintenance), cell: (i) => maintenance(i.maintenance) },
  { label: 'weight', when: (i) => i.weight !== undefined && i.weight !== null, cell: (i) => String(i.weight) },
];

/**
 * What an operator may do to an instance. None yet: the registry offers no instance action that
 * the dashboard may take; the column appears once this returns something.
 */
function actionsOf(_instance) {
  return [];
}

const COLUMNS = [
  { label: 'instance', class: 'url', cell: (i) => i.url },
  { label: 'health', class: 'health-cell', cell: health },
  { label: 'last probe', class: 'probe-time', cell: (i) => (i.lastCheckAt ? time(i.lastCheckAt) : i.heartbeatUrl ? 'not yet' : 'TTL') },
  { label: 'latency', class: 'latency', cell: (i) => (i.lastCheckMs === null || i.lastCheckMs === undefined ? '—' : `${i.lastCheckMs} ms`) },
  { label: 'owner', class: 'owner', cell: (i) => i.owner ?? '—' },
  { label: 'version', class: 'version', cell: (i) => text(i.metadata.version) ?? '—' },
  { label: 'tags', class: 'tags', cell: (i) => tags(i.metadata.tags) },
  { label: 'metadata', class: 'metadata', cell: (i) => otherMetadata(i.metadata) },
  { label: 'via', class: 'protocol', cell: (i) => i.protocol },
];

function instanceTable(instances) {
  const columns = [
    ...COLUMNS,
    ...OPTIONAL_COLUMNS.filter((c) => instances.some(c.when)).map((c) => ({ ...c, class: c.label })),
    ...(instances.some((i) => actionsOf(i).length > 0) ? [{ label: 'actions', class: 'actions', cell: actionsOf }] : []),
  ];
  const head = el('tr', {}, columns.map((c) => el('th', { scope: 'col' }, c.label)));
  return el('div', { class: 'table-box' }, el('table', { class: 'instances' }, el('thead', {}, head), el('tbody', {}, instances.map((i) => instanceRow(i, columns)))));
}

function instanceRow(instance, columns) {
  return el(
    'tr',
    { class: 'instance', 'data-id': instance.id, 'data-url': instance.url, 'data-health': instance.health, 'data-maintenance': String(Boolean(instance.maintenance)) },
    columns.map((c) => el('td', { class: c.class, 'data-label': c.label }, el('span', { class: 'value' }, c.cell(instance)))),
  );
}

function health(instance) {
  const status = badge(instance.health);
  if (instance.health !== 'critical') return status;
  const since = instance.criticalSince ? ` since ${time(instance.criticalSince)}` : '';
  return el('span', {}, status, el('span', { class: 'error' }, `${since}${instance.lastError ? `: ${instance.lastError}` : ''}`));
}

/** GET /v1 instance views' `maintenance`: reason, since when, by whom, and any drain still running. */
function maintenance(value) {
  if (!value) return '—';
  const by = value.by ? ` by ${value.by}` : '';
  const scope = value.scope === 'service' ? ' (whole service)' : '';
  const drain = value.draining && value.drainUntil ? `; draining until ${time(value.drainUntil)}` : '';
  return el('span', { class: 'maintenance' }, `${value.reason}${scope} · since ${time(value.since)}${by}${drain}`);
}

function tags(value) {
  return Array.isArray(value) && value.length > 0 ? value.map((tag) => el('span', { class: 'tag' }, String(tag))) : '—';
}

/** Metadata other than version and tags, as `key=value` pairs (objects as JSON). */
function otherMetadata(metadata) {
  const pairs = Object.entries(metadata).filter(([key]) => key !== 'version' && key !== 'tags');
  if (pairs.length === 0) return '—';
  return pairs.map(([key, value]) => el('span', { class: 'pair' }, `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`));
}

function text(value) {
  return value === undefined || value === null ? undefined : String(value);
}
