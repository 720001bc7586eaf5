/**
 * The boundary between the kernel's background services (scheduler, event bus) and the app sandbox.
 * The sandbox implements it; `schedule/` and `events/` only call it.
 */

/**
 * Runs an app export in a fresh sandbox. Resolves when the handler finished; rejects (any Error,
 * usually FaztError) when it threw, timed out or the app has no such export.
 *
 * @param appId the app's stable UUID (`apps.id`), not its name.
 * @param exportName `'scheduled'` (a job of `fazt.schedule`, `arg` is a `ScheduledJobEvent` of
 *   `schedule/`) or `'on'` (an event delivery, `arg` is an `EventRecord` of `events/`).
 * @param arg JSON-safe value handed to the export as its single argument.
 */
export type InvokeExport = (appId: string, exportName: 'scheduled' | 'on', arg: unknown) => Promise<void>;
