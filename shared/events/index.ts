/**
 * `fazt.events`: the event bus. Apps emit typed events; subscribers' `on(event)` exports receive
 * them asynchronously, in order, with retries. Wiring: one {@link EventBus} per cartridge, started
 * by the host; the sandbox calls {@link EventBus.emit} for `fazt.events.emit`.
 */
export { EventBus, EVENT_TYPE_PATTERN, SYSTEM_EMITTER, type EventRecord, type DeliveryInfo, type EventBusOptions } from './bus.js';
export { validateEventSchemas, compilePayloadSchema, formatSchemaErrors } from './schema.js';
export type { InvokeExport } from '../lib/invoke.js';
