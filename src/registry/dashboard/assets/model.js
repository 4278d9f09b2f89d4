// The dashboard's picture of the catalog: instances by id at a revision, and what the page
// derives from them (services, missing providers, graph layers). No DOM here.

/** @typedef {{ id: string, service: string, url: string, requires: string[], health: 'passing' | 'critical', metadata: Record<string, unknown>, protocol: string, lastCheckAt: string | null, lastCheckMs: number | null, lastError: string | null, criticalSince: string | null }} Instance */

export function createModel() {
  return { revision: -1, /** @type {Map<string, Instance>} */ instances: new Map() };
}

/** Replaces everything with a snapshot ({ revision, instances }) of the watch stream or GET /v1/state. */
export function applySnapshot(model, snapshot) {
  model.revision = snapshot.revision;
  model.instances = new Map(snapshot.instances.map((instance) => [instance.id, instance]));
}

/**
 * Applies one change of the watch stream; returns false for one already reflected (a
 * refresh from GET /v1/state may have run ahead of the stream).
 */
export function applyChange(model, change) {
  if (change.revision <= model.revision) return false;
  model.revision = change.revision;
  if (change.type === 'deregistered') model.instances.delete(change.instance.id);
  else model.instances.set(change.instance.id, change.instance);
  return true;
}

/**
 * Services as the page shows them, sorted by name: every service with an instance or required
 * by one, with its instances, health counts, edges and the required services that have no
 * passing instance (`missing`).
 */
export function servicesOf(model) {
  const byName = new Map();
  const service = (name) => {
    if (!byName.has(name)) byName.set(name, { name, instances: [], passing: 0, critical: 0, requires: new Set(), requiredBy: new Set() });
    return byName.get(name);
  };
  for (const instance of model.instances.values()) {
    const own = service(instance.service);
    own.instances.push(instance);
    own[instance.health] += 1;
    for (const required of instance.requires) {
      own.requires.add(required);
      service(required).requiredBy.add(instance.service);
    }
  }
  const services = [...byName.values()].sort((a, b) => compare(a.name, b.name));
  for (const s of services) finish(s, byName);
  return services;
}

function finish(service, byName) {
  service.instances.sort((a, b) => compare(a.url, b.url));
  service.requires = [...service.requires].sort(compare);
  service.requiredBy = [...service.requiredBy].sort(compare);
  service.missing = service.requires.filter((name) => byName.get(name).passing === 0);
}

/**
 * Graph columns: a service's depth is the longest chain of requirements below it, so that every
 * arrow points from a column to one on its right. A cycle is cut where it is found.
 */
export function depths(services) {
  const byName = new Map(services.map((s) => [s.name, s]));
  const depth = new Map();
  const visiting = new Set();
  const visit = (name) => {
    if (depth.has(name)) return depth.get(name);
    if (visiting.has(name)) return -1;
    visiting.add(name);
    const below = byName.get(name).requires.map(visit);
    visiting.delete(name);
    depth.set(name, Math.max(-1, ...below) + 1);
    return depth.get(name);
  };
  for (const s of services) visit(s.name);
  return depth;
}

/** ok: every instance passing; degraded: some critical; down: none passing; absent: no instance. */
export function stateOf(service) {
  if (service.instances.length === 0) return 'absent';
  if (service.passing === 0) return 'down';
  return service.critical > 0 ? 'degraded' : 'ok';
}

function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * What is wrong with a service, in words, for the list and its page; empty when nothing is. A
 * service has problems when an instance is critical, none passes, none is registered though some
 * service requires it, or a service it requires has no passing instance.
 */
export function problemsOf(service) {
  const problems = [];
  if (service.instances.length === 0) problems.push(`no instance, required by ${service.requiredBy.join(', ')}`);
  else if (service.passing === 0) problems.push('no passing instance');
  else if (service.critical > 0) problems.push(`${service.critical} critical`);
  if (service.missing.length > 0) problems.push(`needs ${service.missing.join(', ')}`);
  return problems;
}

/** The overview's filters: `all`, `passing` (every instance passing), `critical` (some critical), `problems`. */
export const FILTERS = {
  all: () => true,
  passing: (s) => s.instances.length > 0 && s.critical === 0,
  critical: (s) => s.critical > 0,
  problems: (s) => problemsOf(s).length > 0,
};

/** Services whose name holds `query` (any case) and that pass the filter named `filter`. */
export function filterServices(services, { query, filter }) {
  const needle = query.trim().toLowerCase();
  const keep = FILTERS[filter] ?? FILTERS.all;
  return services.filter((s) => keep(s) && s.name.toLowerCase().includes(needle));
}

/** Counts for the top of the page. */
export function totals(services) {
  const instances = services.flatMap((s) => s.instances);
  return {
    services: services.length,
    instances: instances.length,
    passing: instances.filter((i) => i.health === 'passing').length,
    critical: instances.filter((i) => i.health === 'critical').length,
    problems: services.filter(FILTERS.problems).length,
  };
}

/**
 * One service and its direct neighbours, for a focused graph: copies whose edges are only those
 * that touch `name` (a neighbour's own requirements are left out, so the picture stays small).
 */
export function neighbourhood(services, name) {
  const centre = services.find((s) => s.name === name);
  if (!centre) return [];
  const around = new Set([...centre.requires, ...centre.requiredBy]);
  return services
    .filter((s) => s.name === name || around.has(s.name))
    .map((s) => (s.name === name ? s : {
      ...s,
      requires: s.requires.filter((r) => r === name),
      requiredBy: s.requiredBy.filter((r) => r === name),
    }));
}
