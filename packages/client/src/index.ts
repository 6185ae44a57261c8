export {
  type ApiKey,
  type AuditEntry,
  type ClientOptions,
  createClient,
  type Delivery,
  type Invitation,
  type Member,
  type Settings,
  signIn,
  type Token,
  type TokenWithSecret,
  type TookenClient,
  type VerifyResult,
  type Webhook,
  type Workspace,
} from './client.js';
export { TookenError, TookenUnavailableError, TookenUnreachableError } from './errors.js';
export type { components, operations, paths } from './openapi.js';
export {
  createVerifier,
  type TokenVerifier,
  type VerifierOptions,
  type VerifierStats,
  type VerifyOptions,
} from './verifier/verifier.js';
