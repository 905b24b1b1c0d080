/**
 * The health-check component's public surface: probes, the pure rise/fall step, target ids and
 * the monitor that schedules them. The director imports from here; nothing here imports ipvs or vrrp.
 */
export {
  type Health,
  type HealthState,
  type HealthStep,
  type HealthTiming,
  initialHealth,
  stepHealth,
} from './health.js';
export { formatStatusRanges, type HttpProbeCheck, probeHttp, statusMatches } from './http.js';
export {
  type ChangeListener,
  type CheckTarget,
  createHealthMonitor,
  type HealthMonitor,
  type HealthMonitorDeps,
  type MonitorLogger,
  type ResultListener,
  type SetTimer,
  type TargetStatus,
  warmupDelay,
} from './monitor.js';
export { NO_CHECK_RESULT, type Probe, runProbe } from './probe.js';
export { describeError, type ProbeResult } from './result.js';
export { probeScript, type ScriptProbeCheck } from './script.js';
export { checkTargetId } from './target-id.js';
export { probeTcp, type TcpProbeCheck } from './tcp.js';
