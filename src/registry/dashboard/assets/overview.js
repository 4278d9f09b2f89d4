// The overview: counts, a search box and health filters (built once, so typing keeps focus), and
// one compact row per service that matches, linking to the service's page.
import { badge, el, serviceLink } from './dom.js';
import { FILTERS, filterServices, problemsOf, stateOf, totals } from './model.js';

const FILTER_LABELS = { all: 'All', passing: 'Passing', critical: 'Critical', problems: 'Has problems' };

/** Builds the overview in `root`; returns `update(services)`, which redraws counts and rows. */
export function createOverview(root) {
  const filters = { query: '', filter: 'all' };
  const counts = el('p', { id: 'counts', class: 'counts' });
  const search = el('input', { id: 'search', type: 'search', placeholder: 'Search services by name', 'aria-label': 'Search services by name', autocomplete: 'off' });
  const chips = Object.keys(FILTERS).map((name) => el('button', { type: 'button', class: 'chip', 'data-filter': name, 'aria-pressed': String(name === 'all') }, FILTER_LABELS[name]));
  const list = el('div', { id: 'service-list' });
  root.replaceChildren(counts, el('div', { class: 'controls' }, search, el('div', { class: 'chips', role: 'group', 'aria-label': 'Filter by health' }, chips)), list);
  let last = [];
  const update = (services) => {
    last = services;
    drawCounts(counts, services);
    for (const chip of chips) chip.querySelector('.n')?.remove();
    for (const chip of chips) chip.append(el('span', { class: 'n' }, String(services.filter(FILTERS[chip.dataset.filter]).length)));
    list.replaceChildren(drawList(filterServices(services, filters), services.length));
  };
  search.addEventListener('input', () => {
    filters.query = search.value;
    update(last);
  });
  for (const chip of chips) {
    chip.addEventListener('click', () => {
      filters.filter = chip.dataset.filter;
      for (const other of chips) other.setAttribute('aria-pressed', String(other === chip));
      update(last);
    });
  }
  return update;
}

function drawCounts(node, services) {
  const t = totals(services);
  node.replaceChildren(
    count(t.services, 'services'),
    count(t.problems, 'with problems', t.problems > 0 ? 'critical' : ''),
    count(t.instances, 'instances'),
    count(t.passing, 'passing', 'passing'),
    count(t.critical, 'critical', t.critical > 0 ? 'critical' : ''),
  );
}

function count(n, label, kind = '') {
  return el('span', { class: `count ${kind}`, 'data-count': label }, el('strong', {}, String(n)), ` ${label}`);
}

function drawList(services, total) {
  if (total === 0) return el('p', { class: 'empty' }, 'No service is registered yet.');
  if (services.length === 0) return el('p', { class: 'empty' }, 'No service matches.');
  return el('ul', { class: 'service-rows' }, services.map(serviceRow));
}

function serviceRow(service) {
  const problems = problemsOf(service);
  return el(
    'li',
    { class: 'service-row', 'data-service': service.name, 'data-state': stateOf(service), 'data-problems': String(problems.length > 0) },
    el('span', { class: 'name' }, serviceLink(service.name)),
    el('span', { class: 'state' }, badge(stateOf(service))),
    el('span', { class: 'instances' }, service.instances.length === 0 ? 'no instance' : `${service.passing}/${service.instances.length} passing`),
    el('span', { class: 'relations muted' }, `requires ${service.requires.length} · required by ${service.requiredBy.length}`),
    el('span', { class: 'problems' }, [...problems, ...inMaintenance(service)].join(' · ')),
  );
}

/** Not a problem (an operator's decision), but worth seeing in the list. */
function inMaintenance(service) {
  const count = service.instances.filter((i) => i.maintenance).length;
  return count > 0 ? [`${count} in maintenance`] : [];
}
