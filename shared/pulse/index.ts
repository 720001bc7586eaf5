/** Pulse: the node's health over time, alerts and a plain-words summary (docs/pulse.md). */
export { PulseService, DEFAULT_PULSE_INTERVAL_MS, MIN_PULSE_INTERVAL_MS, MAX_PULSE_INTERVAL_MS, type PulseOptions, type PulseSources, type AlertListener, type IntervalSource } from './service.js';
export { PulseCounters, LatencyHistogram, bucketUpperMs, type AppCounts, type CountsWindow, type FailingJob } from './counters.js';
export { mergeSnapshots, type PulseSnapshot, type AppPulse, type PeerPulse, type Resolution } from './snapshot.js';
export { PulseStore, RETENTION, type PulseAlertRecord, type CompactResult } from './store.js';
export { judge, DEFAULT_THRESHOLDS, type PulseAlert, type AlertThresholds, type Verdict } from './alerts.js';
export { askPulse, ruleSummary, MAX_QUESTION_CHARS, type PulseAnswer, type PulseFacts } from './ask.js';
export { parseDuration, formatDuration } from './duration.js';
export { RecentWindow, baselineOf, type Baseline } from './baseline.js';
