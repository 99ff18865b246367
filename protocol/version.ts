/**
 * Wire protocol version. Bumped on any incompatible change to frames or
 * methods; client and agent refuse each other on a mismatch (the client then
 * reinstalls the agent it bundles).
 */
export const PROTOCOL_VERSION = 1;

/**
 * Prefix of the single line `agent.mjs start` prints on stdout, followed by
 * JSON. Login shells print banners, `module` chatter and .bashrc output before
 * it; the client skips every line until this one.
 */
export const START_LINE_MAGIC = '@@CLUSTRIX-AGENT@@ ';
