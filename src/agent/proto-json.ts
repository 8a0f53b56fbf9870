/** Moved to protocol/proto-json.ts (EnvoyFilter patch values read the same JSON). */
export * from '../protocol/proto-json.js';
