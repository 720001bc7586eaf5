/**
 * The mesh (docs/mesh.md): node identity, pairing invitations (code, words, sound), the pairing
 * handshake and the paired peers.
 */
export * from './identity.js';
export * from './invitation.js';
export * from './pairing.js';
export * from './peers.js';
export * from './service.js';
export * from './link.js';
export * from './chirp.js';
