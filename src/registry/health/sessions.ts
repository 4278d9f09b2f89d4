// Session liveness: an instance is alive because its client holds a session stream open
// (GET /v1/instances/{id}/session) and answers the registry's pings. A process that dies closes
// its socket at once, so the registry knows in milliseconds; one that hangs (SIGSTOP) stops
// answering pings and is caught after `sessionStallMs`.
//
// Per instance:  waiting ──connect──▶ connected ──close──▶ grace ──graceMs──▶ critical
//                   │ restore window      ▲  │ stall (no ping answered)           │
//                   └──────────────────────┼──┴──────────────────────────────────▶│
//                                          └──────────── connect ◀────────────────┘
// `waiting` is a new or restored instance's window to open its session. Only the transitions
// to and from `critical` are reported; the health checker turns them into the usual state
// changes (and expires the instance after its grace period).
import { z } from 'zod';
import { durationMs, resolveOptions } from '../../shared/options.js';
import type { Clock, TimerHandle } from '../../shared/clock.js';

/** The session options, with their defaults; part of the registry's options. */
export const sessionOptionsShape = {
  /** Time between the registry's pings on a session stream. */
  sessionPingMs: durationMs(1).default(1000),
  /** No ping answered for this long (or the stream's writes back up): the process hangs and the session is closed. */
  sessionStallMs: durationMs(1).default(3000),
  /** A closed session turns its instance critical after this long, unless the client reconnects. */
  sessionGraceMs: durationMs(0).default(500),
  /** A new or restored session instance has this long to open its session before it turns critical. */
  sessionRestoreGraceMs: durationMs(0).default(5000),
};

const sessionOptionsSchema = z.strictObject(sessionOptionsShape);
export type SessionOptions = z.output<typeof sessionOptionsSchema>;

export function resolveSessionOptions(input?: Partial<SessionOptions>): Readonly<SessionOptions> {
  return resolveOptions(sessionOptionsSchema, input ?? {}, { owner: 'the session tracker' });
}

export type SessionState = 'waiting' | 'connected' | 'grace' | 'critical';

/** What the tracker needs of one open stream. */
export interface SessionConnection {
  /**
   * Writes a ping, asking for an answer or not (see answerEvery()); false when the stream's
   * writes have backed up (the reader hangs).
   */
  ping(answer: boolean): boolean;
  /** Ends the stream (the tracker already counts it closed). */
  cut(reason: string): void;
}

export interface SessionTrackerInit {
  clock: Clock;
  options?: Partial<SessionOptions>;
  /** The instance is alive (a session opened after it turned critical) or not (with why). */
  onChange(id: string, alive: boolean, reason: string): void;
}

interface Session {
  state: SessionState;
  /** The open stream, and a number that tells it from the one before it; null when none. */
  connection: SessionConnection | null;
  token: number;
  /** The window (waiting), the grace (grace) or the stall deadline (connected). */
  deadline: TimerHandle | null;
  /** The next ping (connected). */
  pinger: TimerHandle | null;
  /** Pings written on the open stream. */
  pings: number;
}

/**
 * One ping in this many asks for an answer: as few answers as keep a live client's answers
 * less than sessionStallMs apart with a whole ping interval to spare for the round trip. Each
 * answer is a request the registry serves; the pings between them cost a write and keep the
 * stream busy, so that the client still notices a dead registry.
 */
export function answerEvery(options: Pick<SessionOptions, 'sessionPingMs' | 'sessionStallMs'>): number {
  return Math.max(1, Math.floor(options.sessionStallMs / options.sessionPingMs) - 1);
}

export class SessionTracker {
  readonly options: Readonly<SessionOptions>;
  readonly #clock: Clock;
  readonly #onChange: SessionTrackerInit['onChange'];
  readonly #sessions = new Map<string, Session>();
  readonly #answerEvery: number;
  #nextToken = 1;
  #open = 0;

  constructor(init: SessionTrackerInit) {
    this.options = resolveSessionOptions(init.options);
    this.#answerEvery = answerEvery(this.options);
    this.#clock = init.clock;
    this.#onChange = init.onChange;
  }

  /** Open streams. */
  get open(): number {
    return this.#open;
  }

  state(id: string): SessionState | undefined {
    return this.#sessions.get(id)?.state;
  }

  /**
   * A session instance was registered or restored: it has `windowMs` (default
   * sessionRestoreGraceMs) to open its session. One whose session is open stays connected.
   */
  expect(id: string, windowMs = this.options.sessionRestoreGraceMs, critical = false): void {
    const session = this.#sessions.get(id);
    if (session?.state === 'connected') return;
    if (session) this.#clearTimers(session);
    const next: Session = session ?? { state: 'waiting', connection: null, token: 0, deadline: null, pinger: null, pings: 0 };
    this.#sessions.set(id, next);
    if (critical) {
      next.state = 'critical';
      return;
    }
    next.state = 'waiting';
    next.deadline = this.#clock.setTimeout(() => this.#turnCritical(id, next, `no session opened within ${windowMs} ms`), windowMs);
  }

  /**
   * A stream opened for `id` (which expect() made known): it replaces any open one. Returns the
   * token that disconnect() and heard() take.
   */
  connect(id: string, connection: SessionConnection): number {
    const session = this.#sessions.get(id);
    if (!session) throw new Error(`session tracker: ${id} is not a session instance`);
    if (session.connection) this.#dropConnection(session, 'replaced by a newer session');
    this.#clearTimers(session);
    const wasCritical = session.state === 'critical';
    session.state = 'connected';
    session.connection = connection;
    session.token = this.#nextToken++;
    session.pings = 0;
    this.#open++;
    this.#armStall(id, session);
    this.#schedulePing(id, session);
    if (wasCritical) this.#onChange(id, true, 'session opened');
    return session.token;
  }

  /** The client answered a ping (or pinged) on the session `token`: it is not hung. */
  heard(id: string, token?: number): boolean {
    const session = this.#sessions.get(id);
    if (!session || session.state !== 'connected' || (token !== undefined && token !== session.token)) return false;
    this.#armStall(id, session);
    return true;
  }

  /** The stream `token` closed: the instance turns critical after sessionGraceMs unless it reconnects. */
  disconnect(id: string, token: number, reason = 'session closed'): void {
    const session = this.#sessions.get(id);
    if (!session || session.token !== token || session.connection === null) return;
    session.connection = null;
    this.#open--;
    this.#clearTimers(session);
    session.state = 'grace';
    const graceMs = this.options.sessionGraceMs;
    session.deadline = this.#clock.setTimeout(() => this.#turnCritical(id, session, `${reason}; no new session within ${graceMs} ms`), graceMs);
  }

  /** The instance is gone (or no longer a session instance): its stream is cut, silently. */
  forget(id: string): void {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    this.#clearTimers(session);
    if (session.connection) this.#dropConnection(session, 'the instance is no longer registered with session liveness');
  }

  /** Cuts every stream and clears every timer; reports nothing. Idempotent. */
  close(): void {
    for (const id of [...this.#sessions.keys()]) this.forget(id);
  }

  /** Whether `id` has an open session. */
  connected(id: string): boolean {
    return this.#sessions.get(id)?.state === 'connected';
  }

  #armStall(id: string, session: Session): void {
    if (session.deadline !== null) this.#clock.clearTimeout(session.deadline);
    const stallMs = this.options.sessionStallMs;
    session.deadline = this.#clock.setTimeout(() => this.#stalled(id, session, `no ping answered within ${stallMs} ms`), stallMs);
  }

  #schedulePing(id: string, session: Session): void {
    session.pinger = this.#clock.setTimeout(() => {
      session.pinger = null;
      const answer = ++session.pings % this.#answerEvery === 0;
      if (session.connection?.ping(answer) === false) return this.#stalled(id, session, 'the session stream stopped taking pings');
      if (session.connection) this.#schedulePing(id, session);
    }, this.options.sessionPingMs);
  }

  /** A hung process: its stream is cut and it turns critical at once (a reconnect would be a new session). */
  #stalled(id: string, session: Session, reason: string): void {
    this.#dropConnection(session, reason);
    this.#turnCritical(id, session, reason);
  }

  #turnCritical(id: string, session: Session, reason: string): void {
    this.#clearTimers(session);
    if (session.state === 'critical' || this.#sessions.get(id) !== session) return;
    session.state = 'critical';
    this.#onChange(id, false, reason);
  }

  #dropConnection(session: Session, reason: string): void {
    const connection = session.connection;
    if (!connection) return;
    session.connection = null;
    this.#open--;
    connection.cut(reason);
  }

  #clearTimers(session: Session): void {
    if (session.deadline !== null) this.#clock.clearTimeout(session.deadline);
    if (session.pinger !== null) this.#clock.clearTimeout(session.pinger);
    session.deadline = null;
    session.pinger = null;
  }
}
