// Every token a registry accepts: its own admin token, ROSTER_ADMIN_TOKEN, and the tokens file,
// which is read again whenever it changes (no restart to add, rotate or revoke a token).
import { EventEmitter } from 'node:events';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Logger } from '../../shared/logger.js';
import type { Principal } from './scopes.js';
import { readTokensFile } from './tokens-file.js';
import { sha256Hex, TokenSet, type Authenticator, type TokenEntry } from './token-set.js';

export interface CredentialsOptions {
  /** Path of the tokens file; null: none. A missing file holds no tokens. */
  tokensFile: string | null;
  /** Secret of the token named "admin" (admin.token, or given by the embedder). */
  adminToken: string | null;
  /** Secret of the token named "admin-env" (ROSTER_ADMIN_TOKEN). */
  envAdminToken: string | null;
  logger: Logger;
  /** How often the tokens file is checked for changes. Default 1000 ms. */
  watchIntervalMs?: number;
}

export const DEFAULT_TOKENS_WATCH_INTERVAL_MS = 1000;

/**
 * Events: 'reload' (names: string[]) after the tokens file was read again, 'reload-error'
 * (Error) when it could not be, in which case the previous tokens stay in force.
 */
export class Credentials extends EventEmitter implements Authenticator {
  readonly #options: CredentialsOptions;
  readonly #fixed: TokenEntry[];
  #tokens: TokenSet;
  /** The file's tokens as last applied: a reload that finds the same changes nothing. */
  #fileKey: string;
  #watching = false;
  #reloads: Promise<void> = Promise.resolve();

  private constructor(options: CredentialsOptions, fileEntries: TokenEntry[]) {
    super();
    this.#options = options;
    this.#fixed = fixedEntries(options);
    this.#tokens = new TokenSet([...this.#fixed, ...fileEntries]);
    this.#fileKey = JSON.stringify(fileEntries);
  }

  /** Loads every token; a malformed tokens file refuses the start with a message naming it. */
  static async load(options: CredentialsOptions): Promise<Credentials> {
    const entries = options.tokensFile ? await readTokensFile(options.tokensFile) : [];
    return new Credentials(options, entries);
  }

  /** Names of the tokens in force (never their secrets). */
  get names(): readonly string[] {
    return this.#tokens.names;
  }

  authenticate(secret: string): Principal | undefined {
    return this.#tokens.authenticate(secret);
  }

  /** Follows the tokens file; its changes apply to the next request. */
  watch(): void {
    const path = this.#options.tokensFile;
    if (!path || this.#watching) return;
    this.#watching = true;
    const interval = this.#options.watchIntervalMs ?? DEFAULT_TOKENS_WATCH_INTERVAL_MS;
    // persistent: false — the watch alone never keeps the process alive.
    watchFile(path, { persistent: false, interval }, this.#onChange);
    // The file may have changed between load() and now, before the watcher took its first look.
    void this.reload();
  }

  /** Stops following the tokens file. Idempotent. */
  close(): void {
    if (!this.#watching || !this.#options.tokensFile) return;
    this.#watching = false;
    unwatchFile(this.#options.tokensFile, this.#onChange);
  }

  /** Reads the tokens file again now; resolves when done (whether it worked or not). */
  reload(): Promise<void> {
    this.#reloads = this.#reloads.then(() => this.#reload());
    return this.#reloads;
  }

  readonly #onChange = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.size === previous.size && current.ino === previous.ino) return;
    void this.reload();
  };

  async #reload(): Promise<void> {
    const path = this.#options.tokensFile;
    if (!path) return;
    try {
      const entries = await readTokensFile(path);
      const key = JSON.stringify(entries);
      if (key === this.#fileKey) return;
      this.#fileKey = key;
      this.#tokens = new TokenSet([...this.#fixed, ...entries]);
      this.#options.logger.info({ tokensFile: path, tokens: entries.map((e) => e.name) }, `reloaded the tokens file ${path}`);
      this.emit('reload', this.names);
    } catch (error) {
      this.#options.logger.error({ tokensFile: path, err: (error as Error).message }, `${(error as Error).message}; keeping the previous tokens`);
      this.emit('reload-error', error);
    }
  }
}

function fixedEntries(options: CredentialsOptions): TokenEntry[] {
  const entries: TokenEntry[] = [];
  if (options.adminToken) entries.push({ name: 'admin', sha256: sha256Hex(options.adminToken), scopes: ['admin'], services: null });
  if (options.envAdminToken) entries.push({ name: 'admin-env', sha256: sha256Hex(options.envAdminToken), scopes: ['admin'], services: null });
  return entries;
}
