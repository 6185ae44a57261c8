/**
 * The browser-safe part of the client (the dashboard's entry): no module here may import a
 * Node-only one. Node programs import the package's main entry.
 */
export {
  type ApiKey,
  type AuditEntry,
  type ClientOptions,
  createClient,
  type Delivery,
  type Invitation,
  type Member,
  type Settings,
  type Token,
  type TokenWithSecret,
  type TookenClient,
  type VerifyResult,
  type Webhook,
  type Workspace,
} from './client.js';
export { TookenError, TookenUnreachableError } from './errors.js';
export type { components, operations, paths } from './openapi.js';
