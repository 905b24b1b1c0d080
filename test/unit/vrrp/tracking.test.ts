/**
 * The tracker arithmetic (tracking.ts) as tables: rise/fall verdicts from successive script
 * results, and faults and weights from a set of trackers, with keepalived's semantics.
 */
import { describe, expect, it } from 'vitest';
import { effectivePriority } from '../../../src/vrrp/state-machine.js';
import {
  faultChanges,
  INITIAL_SCRIPT_TRACK,
  recordScriptResult,
  type ScriptTrackState,
  type TrackerVerdict,
  trackEffect,
} from '../../../src/vrrp/tracking.js';

function run(results: readonly boolean[], rise: number, fall: number): string[] {
  let s: ScriptTrackState = INITIAL_SCRIPT_TRACK;
  const verdicts: string[] = [];
  for (const ok of results) {
    s = recordScriptResult(s, ok, { rise, fall });
    verdicts.push(s.verdict);
  }
  return verdicts;
}

describe('script rise/fall', () => {
  it.each([
    // The first result settles it either way.
    { results: [true], rise: 3, fall: 3, verdicts: ['good'] },
    { results: [false], rise: 3, fall: 3, verdicts: ['bad'] },
    // fall consecutive failures turn good into bad.
    { results: [true, false, false, false], rise: 1, fall: 3, verdicts: ['good', 'good', 'good', 'bad'] },
    // A success in between restarts the count.
    {
      results: [true, false, false, true, false, false, false],
      rise: 1,
      fall: 3,
      verdicts: ['good', 'good', 'good', 'good', 'good', 'good', 'bad'],
    },
    // rise consecutive successes turn bad into good.
    { results: [false, true, true], rise: 2, fall: 1, verdicts: ['bad', 'bad', 'good'] },
    {
      results: [false, true, false, true, true],
      rise: 2,
      fall: 1,
      verdicts: ['bad', 'bad', 'bad', 'bad', 'good'],
    },
    // rise = fall = 1 follows every result.
    { results: [true, false, true, false], rise: 1, fall: 1, verdicts: ['good', 'bad', 'good', 'bad'] },
  ])('$results with rise $rise fall $fall → $verdicts', ({ results, rise, fall, verdicts }) => {
    expect(run(results, rise, fall)).toEqual(verdicts);
  });
});

const script = (name: string, weight: number, verdict: 'unknown' | 'good' | 'bad'): TrackerVerdict => ({
  kind: 'script',
  name,
  weight,
  verdict,
});
const iface = (name: string, up: boolean): TrackerVerdict => ({ kind: 'interface', name, up });

describe('tracker effect', () => {
  it.each([
    { what: 'nothing tracked', trackers: [], faults: [], weight: 0 },
    { what: 'interface up', trackers: [iface('eth1', true)], faults: [], weight: 0 },
    {
      what: 'interface down: fault',
      trackers: [iface('eth1', false)],
      faults: ['interface eth1'],
      weight: 0,
    },
    {
      what: 'weight 0 failing: fault',
      trackers: [script('chk', 0, 'bad')],
      faults: ['script chk'],
      weight: 0,
    },
    { what: 'weight 0 succeeding', trackers: [script('chk', 0, 'good')], faults: [], weight: 0 },
    {
      what: 'not run yet: no effect',
      trackers: [script('a', 0, 'unknown'), script('b', 10, 'unknown'), script('c', -10, 'unknown')],
      faults: [],
      weight: 0,
    },
    {
      what: 'positive weight while succeeding',
      trackers: [script('chk', 10, 'good')],
      faults: [],
      weight: 10,
    },
    {
      what: 'positive weight while failing: nothing',
      trackers: [script('chk', 10, 'bad')],
      faults: [],
      weight: 0,
    },
    { what: 'negative weight while failing', trackers: [script('chk', -20, 'bad')], faults: [], weight: -20 },
    {
      what: 'negative weight while succeeding: nothing',
      trackers: [script('chk', -20, 'good')],
      faults: [],
      weight: 0,
    },
    {
      what: 'weights add up',
      trackers: [script('a', 10, 'good'), script('b', -30, 'bad'), script('c', 5, 'good')],
      faults: [],
      weight: -15,
    },
    {
      what: 'the same script tracked by two group members counts once',
      trackers: [script('a', -20, 'bad'), script('a', -20, 'bad')],
      faults: [],
      weight: -20,
    },
    {
      what: 'faults sorted and deduplicated',
      trackers: [iface('eth2', false), script('chk', 0, 'bad'), iface('eth1', false), iface('eth2', false)],
      faults: ['interface eth1', 'interface eth2', 'script chk'],
      weight: 0,
    },
  ])('$what', ({ trackers, faults, weight }) => {
    expect(trackEffect(trackers)).toEqual({ faults, weight });
  });

  it.each([
    { base: 100, weight: -20, priority: 80 },
    { base: 100, weight: 30, priority: 130 },
    { base: 10, weight: -50, priority: 1 },
    { base: 250, weight: 50, priority: 254 },
    { base: 255, weight: -100, priority: 255 },
  ])('priority $base with weight $weight → $priority', ({ base, weight, priority }) => {
    expect(effectivePriority(base, weight)).toBe(priority);
  });

  it('fault changes: adds, then clears', () => {
    expect(faultChanges(['interface eth1', 'script a'], ['script a', 'script b'])).toEqual({
      add: ['script b'],
      clear: ['interface eth1'],
    });
    expect(faultChanges([], [])).toEqual({ add: [], clear: [] });
  });
});
