/**
 * The per-check series, `ipvsd_checks_total` (by result) and `ipvsd_check_duration_seconds` (a
 * histogram), kept outside prom-client. They are the one hot path of the metrics: every probe of
 * every real server lands here, thousands of times a second. Through prom-client each result cost a
 * label validation and two label hashes (a sorted string built per call) and a histogram object per
 * series; here a result is two Map lookups on strings the caller already has and a few additions
 * into a Float64Array, and a series costs one small object. The text is rendered at scrape time,
 * in chunks, in the same format prom-client writes (text format 0.0.4).
 */

export interface CheckSeriesLabels {
  readonly virtual_server: string;
  readonly real_server: string;
  readonly check: string;
}

interface Series {
  readonly virtualServer: string;
  readonly realServer: string;
  check: string;
  /** `virtual_server="…",real_server="…",check="…"`, escaped; made once per series. */
  labelText: string;
  success: number;
  failure: number;
  sum: number;
  /** Per bucket (not cumulative), then the +Inf overflow; cumulated when rendered. */
  readonly counts: Float64Array;
  /** False once forgotten: a cached reference to it must be looked up again. */
  live: boolean;
  /** The store it belongs to (a labels object may be recorded into more than one). */
  readonly store: object;
}

const SERIES = Symbol('ipvsd check series');

export const CHECKS_TOTAL = 'ipvsd_checks_total';
export const CHECK_DURATION = 'ipvsd_check_duration_seconds';
const CHECKS_HELP = 'Health checks of a real server by result.';
const DURATION_HELP = 'Time a health check of a real server took, successful or not.';

/**
 * Series rendered per chunk (about 128 KB of text): the caller may yield to the event loop between
 * chunks. Small chunks are garbage before the next scavenge; 1 MB ones were promoted to the old
 * generation and raised the RSS at every scrape by a few MiB more.
 */
const SERIES_PER_CHUNK = 64;

export interface CheckSeriesStore {
  /** One finished check; `seconds` already sanitised (finite, ≥ 0). */
  record(labels: CheckSeriesLabels, ok: boolean, seconds: number): void;
  /** Drops the series of one real server in one virtual server. */
  forget(virtualServer: string, realServer: string): void;
  forgetVirtualServer(virtualServer: string): void;
  /** Keeps exactly the real servers `keep(virtualServer, realServer)` says yes to. */
  retain(keep: (virtualServer: string, realServer: string) => boolean): void;
  /** Both families, HELP and TYPE included even with no series. */
  chunks(): Generator<string>;
}

export function createCheckSeries(buckets: readonly number[]): CheckSeriesStore {
  const bounds = Float64Array.from([...buckets].sort((a, b) => a - b));
  const leText = [...bounds].map((b) => formatNumber(b));
  /** virtual server → real server → series */
  const byVs = new Map<string, Map<string, Series>>();

  const store = {};

  function drop(series: Series | undefined): void {
    if (series !== undefined) series.live = false;
  }

  function seriesFor(labels: CheckSeriesLabels): Series {
    let byRs = byVs.get(labels.virtual_server);
    if (byRs === undefined) {
      byRs = new Map();
      byVs.set(labels.virtual_server, byRs);
    }
    let series = byRs.get(labels.real_server);
    if (series === undefined) {
      series = {
        virtualServer: labels.virtual_server,
        realServer: labels.real_server,
        check: labels.check,
        labelText: labelText(labels),
        success: 0,
        failure: 0,
        sum: 0,
        counts: new Float64Array(bounds.length + 1),
        live: true,
        store,
      };
      byRs.set(labels.real_server, series);
    } else if (series.check !== labels.check) {
      // A reload changed the check type: the old type's series go, the new one starts from 0.
      series.check = labels.check;
      series.labelText = labelText(labels);
      series.success = 0;
      series.failure = 0;
      series.sum = 0;
      series.counts.fill(0);
    }
    return series;
  }

  function* render(): Generator<string> {
    yield `# HELP ${CHECK_DURATION} ${DURATION_HELP}\n# TYPE ${CHECK_DURATION} histogram\n`;
    let text = '';
    let n = 0;
    for (const byRs of byVs.values())
      for (const s of byRs.values()) {
        let cumulative = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative += s.counts[i] as number;
          text += `${CHECK_DURATION}_bucket{le="${leText[i]}",${s.labelText}} ${cumulative}\n`;
        }
        cumulative += s.counts[bounds.length] as number;
        text +=
          `${CHECK_DURATION}_bucket{le="+Inf",${s.labelText}} ${cumulative}\n` +
          `${CHECK_DURATION}_sum{${s.labelText}} ${formatNumber(s.sum)}\n` +
          `${CHECK_DURATION}_count{${s.labelText}} ${cumulative}\n`;
        if (++n % SERIES_PER_CHUNK === 0) {
          yield text;
          text = '';
        }
      }
    yield `${text}\n# HELP ${CHECKS_TOTAL} ${CHECKS_HELP}\n# TYPE ${CHECKS_TOTAL} counter\n`;
    text = '';
    n = 0;
    for (const byRs of byVs.values())
      for (const s of byRs.values()) {
        text +=
          `${CHECKS_TOTAL}{${s.labelText},result="success"} ${s.success}\n` +
          `${CHECKS_TOTAL}{${s.labelText},result="failure"} ${s.failure}\n`;
        if (++n % SERIES_PER_CHUNK === 0) {
          yield text;
          text = '';
        }
      }
    yield text;
  }

  return {
    record(labels, ok, seconds) {
      // The series of a labels object seen before rides on the object itself (a symbol-keyed
      // property, an inline-cached load): callers that keep their label objects (the director
      // makes them once per config) skip the two string-keyed lookups, and a WeakMap's, per result.
      const holder = labels as CheckSeriesLabels & { [SERIES]?: Series };
      let s = holder[SERIES];
      if (s === undefined || !s.live || s.check !== labels.check || s.store !== store) {
        s = seriesFor(labels);
        // Not enumerable: a copy of the labels ({...labels}) must not carry the cache along.
        if (Object.hasOwn(holder, SERIES)) holder[SERIES] = s;
        else Object.defineProperty(holder, SERIES, { value: s, writable: true, configurable: true });
      }
      if (ok) s.success++;
      else s.failure++;
      s.sum += seconds;
      let i = 0;
      while (i < bounds.length && seconds > (bounds[i] as number)) i++;
      s.counts[i] = (s.counts[i] as number) + 1;
    },
    forget(virtualServer, realServer) {
      const byRs = byVs.get(virtualServer);
      drop(byRs?.get(realServer));
      byRs?.delete(realServer);
      if (byRs?.size === 0) byVs.delete(virtualServer);
    },
    forgetVirtualServer(virtualServer) {
      for (const series of byVs.get(virtualServer)?.values() ?? []) drop(series);
      byVs.delete(virtualServer);
    },
    retain(keep) {
      for (const [vs, byRs] of byVs) {
        for (const [rs, series] of byRs)
          if (!keep(vs, rs)) {
            drop(series);
            byRs.delete(rs);
          }
        if (byRs.size === 0) byVs.delete(vs);
      }
    },
    chunks: render,
  };
}

function labelText(labels: CheckSeriesLabels): string {
  return (
    `virtual_server="${escapeLabel(labels.virtual_server)}",` +
    `real_server="${escapeLabel(labels.real_server)}",check="${escapeLabel(labels.check)}"`
  );
}

/** The text format's label-value escapes: backslash, double quote, line feed. */
function escapeLabel(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`)) : value;
}

/** As prom-client writes numbers: integers plainly, +Inf/-Inf/NaN spelled out. */
function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}
