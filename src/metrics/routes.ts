import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../errors.js';
import type { Metrics } from './metrics.js';
import { createScrapeCheck } from './scrape-access.js';

export interface MetricsRouteOptions {
  metrics: Pick<Metrics, 'scrape' | 'contentType'>;
  /** TOOKEN_METRICS_TOKEN: lets scrapers outside the loopback interface in; null keeps them out. */
  token: string | null;
}

/**
 * `GET /metrics` in the Prometheus text format. Not a workspace route: no credential of a workspace
 * opens it, and it draws on no workspace's budget. Left out of /openapi.json with the health checks.
 */
export const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async (app, { metrics, token }) => {
  const check = createScrapeCheck(token);
  app.get('/metrics', { schema: { tags: ['operations'], hide: true } }, async (request, reply) => {
    switch (check(request.socket.remoteAddress, request.headers)) {
      case 'loopback-only':
        throw new AppError(
          'forbidden',
          '/metrics answers the loopback interface only; set TOOKEN_METRICS_TOKEN to scrape it from elsewhere',
        );
      case 'token-required':
        throw new AppError(
          'unauthorized',
          'Scraping /metrics from elsewhere than loopback needs the metrics token',
          {
            headers: { 'www-authenticate': 'Bearer realm="metrics"' },
          },
        );
      case 'allowed':
        break;
    }
    const text = await metrics.scrape();
    return reply.type(metrics.contentType).header('cache-control', 'no-store').send(text);
  });
};
