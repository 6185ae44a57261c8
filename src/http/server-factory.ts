import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

/** The server options Fastify hands a `serverFactory` (its own defaults applied). */
export interface ServerFactoryOptions {
  keepAliveTimeout?: number;
  requestTimeout?: number;
  connectionTimeout?: number;
  maxRequestsPerSocket?: number;
}

/**
 * The HTTP server Fastify would create itself, with `listener` in front of Fastify's handler
 * (the verify fast lane): the same keep-alive, request and connection time-outs.
 */
export function createHttpServer(
  options: ServerFactoryOptions,
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): Server {
  const server = createServer(listener);
  if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
  if (options.requestTimeout !== undefined) server.requestTimeout = options.requestTimeout;
  if (options.connectionTimeout !== undefined) server.setTimeout(options.connectionTimeout);
  if (options.maxRequestsPerSocket !== undefined && options.maxRequestsPerSocket > 0) {
    server.maxRequestsPerSocket = options.maxRequestsPerSocket;
  }
  return server;
}

/**
 * Fastify's own JSON body parser (prototype and constructor poisoning refused, as for every
 * route), as a function of the body text: the value, or `undefined` when Fastify would refuse it.
 */
export function jsonParserOf(app: FastifyInstance): (text: string) => unknown {
  const parse = app.getDefaultJsonParser('error', 'error');
  return (text) => {
    let value: unknown;
    parse(undefined as never, text, (error, parsed) => {
      value = error ? undefined : parsed;
    });
    return value;
  };
}
