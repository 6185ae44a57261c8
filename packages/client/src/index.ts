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
export { TookenMiddlewareError } from './middleware/core.js';
export { type ExpressLikeRequest, type ExpressLikeResponse, tookenExpress } from './middleware/express.js';
export { type FastifyLikeReply, type FastifyLikeRequest, tookenFastify } from './middleware/fastify.js';
export { type AuthenticateResult, authenticate, refusalResponse } from './middleware/fetch.js';
export { type HonoLikeContext, type TookenVariables, tookenHono } from './middleware/hono.js';
export { type RemoteVerifierOptions, remoteVerifier } from './middleware/remote.js';
export type {
  Refusal,
  RefusalBody,
  TokenVerifier,
  TookenMiddlewareOptions,
  TookenToken,
} from './middleware/types.js';
export type { components, operations, paths } from './openapi.js';
export {
  type CachedVerifier,
  createVerifier,
  type VerifierOptions,
  type VerifierStats,
  type VerifyOptions,
} from './verifier/verifier.js';
