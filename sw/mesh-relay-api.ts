/**
 * The mesh relay between the dashboard page and the device node (docs/mesh.md, "The browser node").
 * Types only: `sw/mesh-relay.ts` implements the worker's side, `web/lib/mesh-relay.ts` the page's.
 *
 * A service worker has no `RTCPeerConnection`, so the page holds the WebRTC data channels (PeerJS)
 * and the worker's kernel runs the link protocol over them (`MeshService.attach`): the link's keys,
 * handshake and frames never leave the worker; the page only carries opaque messages.
 *
 * How the page connects: it creates a `MessageChannel` and posts {@link MeshRelayConnect} (the port
 * transferred) to the active worker; the worker answers on the port with `hello` and `peers`.
 * While it owns the relay and has a peer to reach, the page posts {@link MeshRelayBeat} to the worker every {@link MESH_BEAT_MS}: the
 * message event keeps the worker alive (an idle worker is stopped after ~30 s, and the links with
 * it) and starts it again when it was stopped. A worker that does not know the beat's session (it
 * restarted: its sessions are gone) answers {@link MeshRelayUnknown} to the page, which then connects
 * a new relay; a worker that starts also tells every window ({@link MeshRelayStarted}).
 */

/** Page → worker (`ServiceWorker.postMessage`): opens a relay on `port` (transferred). */
export interface MeshRelayConnect {
  type: 'fazt:mesh';
  port: MessagePort;
  /** Random id of this relay session (the page makes a new one for every connect). */
  session: string;
}

/** Page → worker (`ServiceWorker.postMessage`): the owner of `session` is alive. */
export interface MeshRelayBeat {
  type: 'fazt:mesh-beat';
  session: string;
}

/** Worker → the page that sent a beat: this worker instance has no such session (it restarted). */
export interface MeshRelayUnknown {
  type: 'fazt:mesh-unknown';
  session: string;
}

/** Worker → every window it controls, when a worker instance starts (`instance` is its random id). */
export interface MeshRelayStarted {
  type: 'fazt:mesh-started';
  instance: string;
}

/** A paired peer the page should keep a data channel to. */
export interface RelayPeer {
  nodeId: string;
  name: string;
  /** Base URLs (`http://host:port`) of the peer's HTTP server, whose `/peerjs` is its signaling server. */
  addresses: string[];
  /** A link to it is open now. */
  connected: boolean;
}

/** Messages on the relay port, page → worker. `conn` numbers the page's data channels. */
export type PageToWorker =
  /** Asks for the peer list again. */
  | { t: 'peers?' }
  /** A data channel to `peer` opened (this node initiated it): the worker starts the link handshake. */
  | { t: 'open'; conn: number; peer: string }
  /** A message that arrived on a data channel (a string, or bytes as an ArrayBuffer, transferred). */
  | { t: 'data'; conn: number; data: string | ArrayBuffer }
  /** A data channel closed by itself (the remote closed it, or ICE failed). */
  | { t: 'closed'; conn: number }
  /** What the page is doing about a peer that has no open link (for `GET /api/mesh/peers`). */
  | { t: 'attempt'; peer: string; state: 'connecting' | 'waiting'; error?: string; retryAt?: number }
  /** The network changed: check every open link now (a ping; links that do not answer are closed). */
  | { t: 'verify' }
  /** The page goes away: close every link of this session now. */
  | { t: 'bye' }
  /**
   * Direct pairing (shared/mesh/direct.ts): the page's reply to `direct-answer` / `direct-offer`,
   * its local description as SDP once ICE gathering completed, or why it could not make one.
   */
  | { t: 'direct-sdp'; req: number; sdp?: string; error?: string }
  /** Direct pairing: the data channel of request `req` opened; its messages now travel as `conn` (`data`, `closed`). */
  | { t: 'direct-open'; req: number; conn: number }
  /** Direct pairing: the peer connection of request `req` failed or closed before its channel opened. */
  | { t: 'direct-failed'; req: number; error: string };

/** Messages on the relay port, worker → page. */
export type WorkerToPage =
  /** First message on a new relay: the worker instance's random id (see {@link MeshRelayStarted}). */
  | { t: 'hello'; instance: string }
  /** The paired peers (sent on connect, and after every pairing, unpairing and link change). */
  | { t: 'peers'; peers: RelayPeer[] }
  /** Send this on data channel `conn`. */
  | { t: 'send'; conn: number; data: string | ArrayBuffer }
  /** Close data channel `conn` (the link ended). */
  | { t: 'close'; conn: number }
  /** The handshake on `conn` ended: `open`, or refused / failed with a code and message. */
  | { t: 'link'; conn: number; peer: string; open: boolean; code?: string; message?: string }
  /** Answer to a beat: the session is alive in this worker. */
  | { t: 'beat' }
  /**
   * Direct pairing, joiner: make an `RTCPeerConnection` (`iceServers: []`), apply this offer (SDP
   * rebuilt from the invitation's compact offer, without candidates), answer it and reply
   * `direct-sdp` with the answer; when the inviter's data channel opens, reply `direct-open`.
   */
  | { t: 'direct-answer'; req: number; sdp: string }
  /** Direct pairing, inviter: make an `RTCPeerConnection` with one data channel and reply `direct-sdp` with the offer. */
  | { t: 'direct-offer'; req: number }
  /** Direct pairing, inviter: apply the joiner's answer to request `req`; reply `direct-open` when the channel opens. */
  | { t: 'direct-connect'; req: number; sdp: string }
  /** Direct pairing: give up request `req` (expired, cancelled); its peer connection closes. */
  | { t: 'direct-cancel'; req: number };

/** Web Lock held by the page that owns the relay (one tab of the origin at a time). */
export const MESH_RELAY_LOCK = 'fazt-mesh-relay';
/**
 * How often the owning page beats, ms. A stopped worker is started again by the next beat, so this
 * bounds how long the links stay down after a stop (bench/mesh-browser.mjs); a beat is one small
 * message event.
 */
export const MESH_BEAT_MS = 500;
/** A session whose page sent nothing for this long is closed by the worker, ms. */
export const MESH_SILENT_MS = 5_000;
