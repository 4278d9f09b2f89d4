// The demo services' names, default ports and URLs: written here once, read by the services, the
// gateways that look them up, `roster log|grading|portal` and `roster up`. It imports nothing, so
// the CLI reads it without loading any service. The client library never imports it: to the
// client these are names like any other.

/** The names the demo services register under: the course's, so that Go and Node parts mix. */
export const LOG_SERVICE = 'LogService';
export const GRADING_SERVICE = 'GradingService';
export const PORTAL_SERVICE = 'Portal';

export interface DemoService {
  /** The name it registers under. */
  readonly name: string;
  /**
   * The port it listens on unless told otherwise: the course's, except grading's 6100 (the
   * course's 6000 is on the Fetch standard's bad-ports list: fetch() and browsers refuse it).
   */
  readonly port: number;
  /** The services it requires. */
  readonly requires: readonly string[];
  /** What the process is called on the command line, in `roster up`'s output and in its token's file (`<part>.token`). */
  readonly part: DemoPart;
}

export type DemoPart = 'log' | 'grading' | 'portal';

/** In the order `roster up` starts them: each after what it requires. */
export const DEMO_SERVICES: Readonly<Record<DemoPart, DemoService>> = Object.freeze({
  log: Object.freeze({ part: 'log', name: LOG_SERVICE, port: 4000, requires: Object.freeze([]) }),
  grading: Object.freeze({ part: 'grading', name: GRADING_SERVICE, port: 6100, requires: Object.freeze([LOG_SERVICE]) }),
  portal: Object.freeze({ part: 'portal', name: PORTAL_SERVICE, port: 5000, requires: Object.freeze([LOG_SERVICE, GRADING_SERVICE]) }),
});

export const DEFAULT_HOST = 'localhost';

/** `http://<host>:<port>`, with an IPv6 address in brackets. */
export function serviceUrl(port: number, host: string = DEFAULT_HOST): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Where a demo service answers when started with its defaults: `http://localhost:<port>`. */
export function defaultUrl(part: DemoPart): string {
  return serviceUrl(DEMO_SERVICES[part].port);
}
