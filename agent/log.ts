/** pino, JSON lines to a file (never stdout: stdout belongs to the start line and the bridge). */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(file: string | null, level = process.env.CLUSTRIX_LOG_LEVEL ?? 'info'): Logger {
  if (!file) return pino({ level: 'silent' });
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: file, mkdir: true, sync: false }));
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
