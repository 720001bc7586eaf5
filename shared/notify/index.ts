/** Notifications: Web Push subscriptions, VAPID, sending with retries, `app.json` rules (docs/notify.md). */
export { NotifyService, OWNER_SENTINEL, VAPID_PUBLIC_META, VAPID_PRIVATE_META, type NotifyOptions, type PushSubscriptionRecord, type DeliveryReport, type DeliveryStatus } from './service.js';
export { checkSubscription, checkDeviceLabel, pushServiceName, MAX_ENDPOINT_LENGTH, MAX_DEVICE_LABEL, type PushSubscriptionJSON } from './subscription.js';
export { checkMessageFields, checkTarget, appUrl, nodeUrl, MAX_TITLE, MAX_BODY, MAX_TAG, MAX_URL, MAX_PAYLOAD_BYTES, type NotifyMessage, type NotifyTarget, type PushPayload } from './message.js';
export { validateNotifyRules, renderTemplate, rulesFor, MAX_NOTIFY_RULES, type NotifyRule } from './rules.js';
