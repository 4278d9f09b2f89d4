// GET /metrics: the registry's metrics in Prometheus text format (docs/metrics.md).
import type { FastifyInstance } from 'fastify';
import type { RegistryMetrics } from '../metrics.js';

export function metricsRoutes(metrics: RegistryMetrics) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/metrics', { config: { access: 'read' } }, async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    });
  };
}
