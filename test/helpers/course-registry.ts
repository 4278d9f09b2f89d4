// A stand-in for the Go course's registry, written from the course protocol as docs/protocol.md
// describes it (no code of the course is copied): a real HTTP server on 127.0.0.1
// that accepts the course's registration JSON, pushes the course's patches (no Revision keys;
// `null` lists where the course has nil slices) and probes heartbeats when a test asks it to.
// Every request it receives and every request it sends is recorded for assertions.
//
// What the course does and this stand-in does too:
// - POST /services: the registration is decoded leniently (Go matches keys case-insensitively
//   and ignores unknown ones); bad JSON → 400. Before answering, it POSTs to the new service's
//   ServiceUpdateURL one patch listing every registered instance of each required service, with
//   nil slices as `null` when there is nothing to list. If that callback fails (transport
//   error or non-200) → 400; else 200 with an empty body. Then, without waiting (the course
//   uses goroutines), each registered instance that requires the new service gets
//   `{"Added":[{"Name","URL"}],"Removed":[]}` (one patch per required service that matches).
// - DELETE /services, body = the ServiceURL: removes the first instance with that URL, sends
//   `Removed` patches to its dependents the same way, 200; an unknown URL → 500.
// - Anything else on /services → 405; other paths → 404 (Go's ServeMux).
// - Duplicate registrations of one URL are kept, as the course keeps them.
// - Heartbeats: only HTTP 200 is alive; a failed probe removes the instance at once and sends
//   `Removed` patches. The course runs this on a timer; here `checkHeartbeats()` runs one round.
//
// Where it departs from the course, on purpose and only to keep tests deterministic and bounded:
// - A registration whose callback failed is not kept (so a test sees a clean state after a 400).
// - Outgoing requests have a timeout (`requestTimeoutMs`); the course has none.
// - Heartbeats run only when `checkHeartbeats()` is called, each instance once, and it resolves
//   after the Removed patches it caused have been sent. No retry, no re-adding.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A registration as the course's registry keeps it. */
export interface CourseRegistrationRecord {
  ServiceName: string;
  ServiceURL: string;
  RequiredServices: string[];
  ServiceUpdateURL: string;
  HeartbeatURL: string;
}

export interface CoursePatchEntry {
  Name: string;
  URL: string;
}

/** A patch as the course encodes it: `null` for a nil slice. */
export interface CoursePatchBody {
  Added: CoursePatchEntry[] | null;
  Removed: CoursePatchEntry[] | null;
}

/** A request the registry received. */
export interface ReceivedRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  /** The body exactly as received. */
  body: string;
  /** What the registry answered. */
  status: number;
}

/** Why the registry sent a patch. */
export type PatchReason = 'register' | 'added' | 'removed';

/** A patch the registry sent (or tried to send). */
export interface SentPatch {
  /** The receiver's ServiceUpdateURL. */
  to: string;
  /** The receiver's ServiceURL. */
  receiver: string;
  reason: PatchReason;
  /** The JSON text sent, byte for byte. */
  body: string;
  patch: CoursePatchBody;
  /** The receiver's status, or null when no answer came. */
  status: number | null;
  /** Transport error when no answer came. */
  error: string | null;
}

/** One heartbeat probe. */
export interface HeartbeatProbe {
  service: string;
  url: string;
  heartbeatUrl: string;
  status: number | null;
  error: string | null;
  alive: boolean;
}

export interface CourseRegistryOptions {
  /** Timeout of each request the registry sends (patches, heartbeats). Default 2000. */
  requestTimeoutMs?: number;
  /** Port to listen on: an earlier registry's, to play one that restarted (empty, as the course's would be). Default: any free port. */
  port?: number;
}

type Waiter = { match: (patch: SentPatch) => boolean; resolve: (patch: SentPatch) => void };

export class CourseRegistry {
  /** Every request received, in order of arrival (recorded once answered). */
  readonly received: ReceivedRequest[] = [];
  /** Every patch sent, in order of completion. */
  readonly patches: SentPatch[] = [];
  /** Every heartbeat probe, in order of completion. */
  readonly probes: HeartbeatProbe[] = [];
  readonly #registrations: CourseRegistrationRecord[] = [];
  readonly #pending = new Set<Promise<void>>();
  readonly #timeoutMs: number;
  #waiters: Waiter[] = [];
  #server: Server | null = null;
  #port = 0;

  private constructor(options: CourseRegistryOptions) {
    this.#timeoutMs = options.requestTimeoutMs ?? 2_000;
  }

  static async start(options: CourseRegistryOptions = {}): Promise<CourseRegistry> {
    const registry = new CourseRegistry(options);
    const server = createServer((req, res) => {
      registry.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(error));
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    registry.#server = server;
    registry.#port = (server.address() as AddressInfo).port;
    return registry;
  }

  /** Base URL; the API is at `${url}/services`. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** The current registrations, in order (a copy). */
  get registrations(): CourseRegistrationRecord[] {
    return this.#registrations.map((r) => ({ ...r, RequiredServices: [...r.RequiredServices] }));
  }

  /** Received requests for `method` on /services. */
  requests(method: string): ReceivedRequest[] {
    return this.received.filter((r) => r.method === method && r.path === '/services');
  }

  /** The first sent patch that matches, now or when it is sent; rejects after `timeoutMs`. */
  waitForPatch(match: (patch: SentPatch) => boolean, what: string, timeoutMs = 5_000): Promise<SentPatch> {
    const seen = this.patches.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (patch) => {
          clearTimeout(timer);
          resolve(patch);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        const sent = this.patches.map((p) => `${p.reason} → ${p.receiver}: ${p.body} (${p.status ?? p.error})`).join('\n  ');
        reject(new Error(`course registry: no patch ${what} within ${timeoutMs} ms; patches sent:\n  ${sent || '(none)'}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Resolves once every notification sent so far has been answered (or failed). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /**
   * One round of the course's health check: GET each HeartbeatURL once (in parallel); an
   * instance that does not answer 200 is removed at once and its dependents get `Removed`
   * patches. Resolves with this round's probes after those patches have been sent.
   */
  async checkHeartbeats(): Promise<HeartbeatProbe[]> {
    const round = await Promise.all(
      this.#registrations.map(async (reg): Promise<HeartbeatProbe> => {
        const answer = await this.#send('GET', reg.HeartbeatURL);
        const probe: HeartbeatProbe = {
          service: reg.ServiceName,
          url: reg.ServiceURL,
          heartbeatUrl: reg.HeartbeatURL,
          status: answer.status,
          error: answer.error,
          alive: answer.status === 200,
        };
        this.probes.push(probe);
        return probe;
      }),
    );
    for (const probe of round) {
      if (!probe.alive) this.#remove(probe.url);
    }
    await this.settled();
    return round;
  }

  /** Waits for notifications under way, then closes the server and its connections. */
  async close(): Promise<void> {
    await this.settled();
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // ---- the /services handler

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readText(req);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const answer = (status: number, text = ''): void => {
      this.received.push({ method: req.method ?? '', path, contentType: req.headers['content-type'], body, status });
      res.writeHead(status, text ? { 'content-type': 'text/plain; charset=utf-8' } : {});
      res.end(text);
    };
    if (path !== '/services') return answer(404, '404 page not found\n');
    if (req.method === 'POST') {
      const reg = decodeRegistration(body);
      if (reg === null) return answer(400);
      return answer(await this.#add(reg));
    }
    if (req.method === 'DELETE') {
      return answer(this.#remove(body) ? 200 : 500);
    }
    return answer(405);
  }

  /** Adds, calls back with the required services, and on success notifies the dependents. */
  async #add(reg: CourseRegistrationRecord): Promise<number> {
    this.#registrations.push(reg);
    let added: CoursePatchEntry[] | null = null;
    for (const other of this.#registrations) {
      for (const required of reg.RequiredServices) {
        if (other.ServiceName === required) (added ??= []).push({ Name: other.ServiceName, URL: other.ServiceURL });
      }
    }
    const sent = await this.#sendPatch(reg, 'register', { Added: added, Removed: null });
    if (sent.status !== 200) {
      this.#registrations.splice(this.#registrations.indexOf(reg), 1);
      return 400;
    }
    this.#notify('added', { Name: reg.ServiceName, URL: reg.ServiceURL });
    return 200;
  }

  /** Removes the first instance with that URL and notifies its dependents; false when unknown. */
  #remove(url: string): boolean {
    const index = this.#registrations.findIndex((reg) => reg.ServiceURL === url);
    if (index < 0) return false;
    const [reg] = this.#registrations.splice(index, 1);
    this.#notify('removed', { Name: reg!.ServiceName, URL: reg!.ServiceURL });
    return true;
  }

  /** One patch per (dependent, matching required service), sent in the background. */
  #notify(reason: 'added' | 'removed', entry: CoursePatchEntry): void {
    for (const reg of this.#registrations) {
      for (const required of reg.RequiredServices) {
        if (required !== entry.Name) continue;
        const patch: CoursePatchBody = reason === 'added' ? { Added: [entry], Removed: [] } : { Added: [], Removed: [entry] };
        const sending = this.#sendPatch(reg, reason, patch).then(() => undefined);
        this.#pending.add(sending);
        void sending.finally(() => this.#pending.delete(sending));
      }
    }
  }

  async #sendPatch(to: CourseRegistrationRecord, reason: PatchReason, patch: CoursePatchBody): Promise<SentPatch> {
    const body = JSON.stringify(patch);
    const answer = await this.#send('POST', to.ServiceUpdateURL, body);
    const sent: SentPatch = { to: to.ServiceUpdateURL, receiver: to.ServiceURL, reason, body, patch, status: answer.status, error: answer.error };
    this.patches.push(sent);
    const ready = this.#waiters.filter((w) => w.match(sent));
    this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
    for (const waiter of ready) waiter.resolve(sent);
    return sent;
  }

  /** One request on a fresh connection; never rejects. */
  #send(method: 'GET' | 'POST', url: string, body?: string): Promise<{ status: number | null; error: string | null }> {
    return new Promise((resolve) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        return resolve({ status: null, error: `invalid URL ${JSON.stringify(url)}` });
      }
      const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
      const req = httpRequest(target, { method, headers, agent: false, timeout: this.#timeoutMs }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? null, error: null }));
        res.on('error', (error) => resolve({ status: null, error: error.message }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: null, error: error.code ?? error.message }));
      req.end(body);
    });
  }
}

/**
 * Go's json.Decoder into the course's struct: an object, keys matched case-insensitively,
 * unknown keys ignored, missing strings "", a missing list nil. Null when it would fail.
 */
function decodeRegistration(text: string): CourseRegistrationRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const field = (name: string): unknown => {
    const key = Object.keys(value as object).find((k) => k.toLowerCase() === name.toLowerCase());
    return key === undefined ? undefined : (value as Record<string, unknown>)[key];
  };
  const text_ = (name: string): string | null => {
    const v = field(name);
    return v === undefined || v === null ? '' : typeof v === 'string' ? v : null;
  };
  const required = field('RequiredServices');
  const list = required === undefined || required === null ? [] : Array.isArray(required) && required.every((s) => typeof s === 'string') ? (required as string[]) : null;
  const reg = {
    ServiceName: text_('ServiceName'),
    ServiceURL: text_('ServiceURL'),
    RequiredServices: list,
    ServiceUpdateURL: text_('ServiceUpdateURL'),
    HeartbeatURL: text_('HeartbeatURL'),
  };
  if (Object.values(reg).some((v) => v === null)) return null;
  return reg as CourseRegistrationRecord;
}

function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
