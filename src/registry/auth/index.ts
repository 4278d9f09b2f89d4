export { SCOPES, ACCESS_LEVELS, COURSE_PRINCIPAL, hasScope, isAdmin, mayRegisterService, toCaller, type Access, type Principal, type Scope } from './scopes.js';
export { TokenSet, sha256Hex, type Authenticator, type TokenEntry } from './token-set.js';
export { parseTokensFile, readTokensFile, toTokenEntries, RESERVED_TOKEN_NAMES, type TokenSpec } from './tokens-file.js';
export { ensureAdminTokenFile, newSecret, ADMIN_TOKEN_FILE } from './admin-token.js';
export { Credentials, type CredentialsOptions } from './credentials.js';
export { SourceList, DEFAULT_COURSE_SOURCES } from '../../shared/source-list.js';
