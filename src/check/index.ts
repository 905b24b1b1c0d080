/**
 * The health-check component's public surface: probes, the pure rise/fall step, target ids and
 * the monitor that schedules them. The director imports from here; nothing here imports ipvs or vrrp.
 */

export { type DnsProbeCheck, probeDns, startDnsProbe } from './dns.js';
export { type FileProbeCheck, probeFile } from './file.js';
export {
  type Health,
  type HealthState,
  type HealthStep,
  type HealthTiming,
  initialHealth,
  stepHealth,
} from './health.js';
export { formatStatusRanges, type HttpProbeCheck, probeHttp, startHttpProbe, statusMatches } from './http.js';
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
export { icmpDroppedReplies, type PingProbeCheck, probePing, startPingProbe } from './ping.js';
export {
  type CancelProbe,
  fromPromiseProbe,
  NO_CHECK_RESULT,
  type Probe,
  type ProbeDone,
  runProbe,
  type StartProbe,
  startProbe,
} from './probe.js';
export { describeError, type ProbeResult } from './result.js';
export { probeScript, type ScriptProbeCheck } from './script.js';
export { probeSmtp, type SmtpProbeCheck, startSmtpProbe } from './smtp.js';
export { checkTargetId } from './target-id.js';
export { probeTcp, startTcpProbe, type TcpProbeCheck } from './tcp.js';
export { probeUdp, startUdpProbe, type UdpProbeCheck } from './udp.js';
