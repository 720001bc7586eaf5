/**
 * `fazt.schedule`: one-shot and cron jobs kept in the cartridge, run by a single-timer scheduler.
 * Wiring: one {@link JobStore} and one {@link Scheduler} per cartridge; deploy calls
 * {@link validateSchedule} before committing and {@link JobStore.syncCron} after every deploy/rollback;
 * app removal calls {@link JobStore.removeApp}.
 */
export {
  JobStore,
  MAX_PENDING_JOBS_PER_APP,
  MAX_RUN_AT,
  type JobInfo,
  type JobKind,
  type JobStatus,
  type JobChange,
  type JobChangeListener,
  type CronSyncResult,
} from './jobs.js';
export { Scheduler, type SchedulerOptions, type ScheduledJobEvent } from './scheduler.js';
export { validateSchedule, nextCronRun, scheduleKey, type ScheduleEntry, type CatchUpPolicy } from './cron.js';
export { MAX_JSON_BYTES } from '../lib/stored-json.js';
export { MAX_TIMER_DELAY_MS, type HostTimers } from '../lib/timer.js';
export type { InvokeExport } from '../lib/invoke.js';
