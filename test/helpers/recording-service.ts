// A stand-in for a course service: a real HTTP server that records the patches it receives
// and answers heartbeats, so tests can see exactly what the registry sends.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

export class RecordingService {
  readonly requests: ReceivedRequest[] = [];
  /** What GET /heartbeat answers; 'hang' never answers. */
  heartbeat: number | 'hang' = 200;
  /** What POST /services answers; 'hang' never answers. */
  update: number | 'hang' = 200;
  #server: Server;
  #waiters: Array<() => void> = [];

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<RecordingService> {
    const server = createServer();
    const service = new RecordingService(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = req.url ?? '/';
        service.requests.push({ method: req.method ?? '', path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        const answer = path === '/heartbeat' ? service.heartbeat : service.update;
        if (answer !== 'hang') res.writeHead(answer).end();
        for (const wake of service.#waiters.splice(0)) wake();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return service;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** The course-style registration of this service. */
  registration(name: string, requires: string[] = []): object {
    return {
      ServiceName: name,
      ServiceURL: this.url,
      RequiredServices: requires,
      ServiceUpdateURL: `${this.url}/services`,
      HeartbeatURL: `${this.url}/heartbeat`,
    };
  }

  /** Raw bodies of the patches received, in order. */
  get patchBodies(): string[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path === '/services').map((r) => r.body);
  }

  get patches(): Array<{ Added: Array<{ Name: string; URL: string }>; Removed: Array<{ Name: string; URL: string }>; Revision?: number; PrevRevision?: number }> {
    return this.patchBodies.map((body) => JSON.parse(body));
  }

  /** Resolves once `predicate` holds, re-checking after every request received. */
  async waitFor(predicate: (service: this) => boolean): Promise<void> {
    while (!predicate(this)) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close').catch(() => undefined);
  }
}
