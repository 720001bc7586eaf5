/** Realtime: per-app channels, one Server-Sent Events stream per page, resume (docs/realtime.md). */
export { RealtimeService, DEFAULT_REALTIME_OPTIONS, type RealtimeOptions, type RealtimeMessage, type PublishResult, type ResetInfo, type RealtimeSubscriber, type Subscription } from './service.js';
export { CHANNEL_PATTERN, MAX_CHANNEL_LENGTH, MAX_CHANNELS_PER_STREAM, MAX_DATA_BYTES, checkChannel, parseChannelList, encodeData } from './channels.js';
export { NODE_PATH_PREFIX, isNodePath, originAllowed, serveNodePath, type NodePathMount } from './http.js';
export { REALTIME_CLIENT_JS } from './client.js';
