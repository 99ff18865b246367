/**
 * Wire protocol version. Bumped on any incompatible change to frames or
 * methods; client and agent refuse each other on a mismatch (the client then
 * reinstalls the agent it bundles).
 */
export const PROTOCOL_VERSION = 3;

/**
 * Prefix of the single line `agent.mjs start` prints on stdout, followed by
 * JSON. Login shells print banners, `module` chatter and .bashrc output before
 * it; the client skips every line until this one.
 */
export const START_LINE_MAGIC = '@@CLUSTRIX-AGENT@@ ';

/** What a running agent reports about itself: serve's readiness message, and the start line's JSON. */
export interface AgentReady {
  /** Unix socket to connect to. */
  socket: string;
  protocol: number;
  build: string;
  pid: number;
  /** Secret for the hello frame (never in argv or URLs). */
  token: string;
  runDir: string;
  root: string;
  host: string;
  node: string;
  logFile: string;
}

/** The JSON after START_LINE_MAGIC: AgentReady plus whether this start launched the agent. */
export interface StartLineInfo extends AgentReady {
  started: boolean;
}
