// DOM helpers shared by the dashboard's views. Every string from the registry goes in as a text
// node (through append or textContent), never as markup.

/** A DOM element with attributes and children; strings become text nodes, null is skipped. */
export function el(name, attributes, ...children) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  node.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return node;
}

/** The client-side address of a service's page. */
export function serviceHref(name) {
  return `#/service/${encodeURIComponent(name)}`;
}

export function serviceLink(name, attributes = {}) {
  return el('a', { href: serviceHref(name), class: 'service-link', ...attributes }, name);
}

export function time(iso) {
  return new Date(iso).toLocaleTimeString();
}

/** A health badge: passing, critical, or a service's state (ok, degraded, down, absent). */
export function badge(label, kind = label) {
  return el('span', { class: `badge ${kind}` }, label);
}
