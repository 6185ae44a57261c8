export {
  type ApiKey,
  type AuditEntry,
  type ClientOptions,
  createClient,
  type Delivery,
  type Invitation,
  type Me,
  type Member,
  type Session,
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
