export { createMetricsServer, type MetricsServer, type MetricsServerOptions } from './http.js';
export { BACKEND_FAMILIES, ipvsFamilyChunks, renderIpvsFamilies, SERVICE_FAMILIES } from './ipvs-families.js';
export {
  CHECK_DURATION_BUCKETS,
  createMetrics,
  type MetricsDeps,
  type MetricsOptions,
  type PrometheusMetrics,
  RECONCILE_DURATION_BUCKETS,
} from './metrics.js';
export { type ProcessMetricsSnapshot, registerProcessMetrics } from './process-metrics.js';
export * from './types.js';
export { registerVrrpMetrics, type VrrpMetricsSnapshot } from './vrrp-metrics.js';
