/**
 * Caller-controlled text (a task name, a property key, a job's field) as an error message or a
 * log line echoes it: bounded, so nobody can make messages and logs arbitrarily large, and with
 * what is not printable escaped, so it cannot forge a line break, hide itself with a bidi
 * override, or colour a terminal.
 */

/** Characters of the text kept; the rest becomes an ellipsis. */
export const ECHOED_CHARS = 80;

/** Characters kept of a cause's message appended to an error's own (it may echo a caller's value). */
export const ECHOED_CAUSE_CHARS = 200;

/** `text` in double quotes, escaped, at most `ECHOED_CHARS` characters of it then `…`. */
export function quoted(text: string): string {
  return `"${excerpt(text)}"`;
}

/** `text`, escaped, at most `limit` characters of it then `…`, without quotes. */
export function excerpt(text: string, limit = ECHOED_CHARS): string {
  let head = text.length > limit ? text.slice(0, limit) : text;
  // Never half a surrogate pair: the cut would leave a character that is not one.
  if (head.length < text.length && /[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
  const escaped = head.replace(/[\p{C}\p{Zl}\p{Zp}"\\]/gu, escape);
  return head.length < text.length ? `${escaped}…` : escaped;
}

const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escape(character: string): string {
  return SHORT[character] ?? `\\u{${character.codePointAt(0)!.toString(16)}}`;
}

/**
 * `: message` of `cause` when it is an Error, bounded and escaped, else `''`. Never throws: the
 * cause may be the caller's (a getter's error whose `message` getter throws, a Proxy), and the
 * error being built must still reach its call.
 */
export function causeSuffix(cause: unknown): string {
  try {
    return cause instanceof Error ? `: ${excerpt(String(cause.message), ECHOED_CAUSE_CHARS)}` : '';
  } catch {
    return ': [unreadable message: its getter threw]';
  }
}

/** Bigints beyond this many digits are shown by their kind. */
const HUGE = 10n ** BigInt(ECHOED_CHARS);

/**
 * A value the caller gave, as an error message that refuses it echoes it: a string quoted, any
 * other primitive as it prints, both escaped and bounded; an object or a function by its kind
 * alone, since printing it would run the caller's code (a `toString` or `Symbol.toPrimitive`
 * that throws, and the refusal would become that error instead of offload's).
 */
export function shown(value: unknown): string {
  if (typeof value === 'string') return quoted(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return value === null ? 'null' : 'an object';
  // Printing a bigint of a million digits would take seconds: beyond 80 digits, its kind.
  if (typeof value === 'bigint' && (value > HUGE || value < -HUGE)) return 'a bigint';
  return excerpt(String(value));
}
