/**
 * Caller-controlled text (a task name, a property key, a job's field) as an error message or a
 * log line echoes it: bounded, so nobody can make messages and logs arbitrarily large, and with
 * what is not printable escaped, so it cannot forge a line break, hide itself with a bidi
 * override, or colour a terminal.
 */

/** Characters of the text kept; the rest becomes an ellipsis. */
export const ECHOED_CHARS = 80;

/** `text` in double quotes, escaped, at most `ECHOED_CHARS` characters of it then `…`. */
export function quoted(text: string): string {
  return `"${excerpt(text)}"`;
}

/** `text`, escaped, at most `ECHOED_CHARS` characters of it then `…`, without quotes. */
export function excerpt(text: string): string {
  let head = text.length > ECHOED_CHARS ? text.slice(0, ECHOED_CHARS) : text;
  // Never half a surrogate pair: the cut would leave a character that is not one.
  if (head.length < text.length && /[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
  const escaped = head.replace(/[\p{C}\p{Zl}\p{Zp}"\\]/gu, escape);
  return head.length < text.length ? `${escaped}…` : escaped;
}

const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escape(character: string): string {
  return SHORT[character] ?? `\\u{${character.codePointAt(0)!.toString(16)}}`;
}
