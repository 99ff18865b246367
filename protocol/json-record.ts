/** Plain maps: the shape every frame, lock, marker and handshake line must have before its fields are checked. */

/** A plain object (a msgpack or JSON map): not null, not an array, not bytes. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** `text` parsed as JSON when it is a map; null when it is not JSON or not a map. */
export function parseJsonRecord(text: string): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  return isRecord(v) ? v : null;
}
