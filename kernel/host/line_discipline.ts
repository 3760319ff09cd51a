/**
 * The terminal's line discipline, in the host: turns the characters typed (or
 * piped) into the console's input pieces — whole lines, control keys, and end of
 * input — as a Unix tty does in canonical mode. With a raw-mode terminal it also
 * echoes and edits (backspace); on a pipe it only splits.
 *
 *   Enter (\r or \n)   ends a line (\r\n counts once)
 *   Ctrl-C, Ctrl-Z     a key of its own (ConsoleKey); the line typed so far is dropped
 *   Ctrl-L             a key of its own; the line typed so far is dropped
 *   Ctrl-D             end of input, on an empty line (ignored within a line)
 *   Backspace          erases the last character typed
 *   escape sequences   (arrow keys…) are ignored, as are other control characters
 *
 * Pure: it neither reads nor writes the terminal; `echo` receives what to show
 * ("^C" and "^Z" for those keys: the shell ends the line).
 */

import { ConsoleKey } from "../abi/syscalls.ts";

/** A piece of input: a line, a one-character control key, or null (end of input). */
export type Piece = string | null;

const KEY_ECHO: Record<number, string> = {
  [ConsoleKey.INTERRUPT]: "^C",
  [ConsoleKey.BACKGROUND]: "^Z",
  [ConsoleKey.CLEAR]: "",
};

export class LineDiscipline {
  readonly #echo: ((text: string) => void) | null;
  #line = "";
  #afterCr = false;
  /** Inside an escape sequence: 1 after ESC, 2 after ESC [ or ESC O. */
  #escape = 0;
  #ended = false;

  /** `echo`: where to show what is typed (a raw terminal), or null (a pipe). */
  constructor(echo: ((text: string) => void) | null = null) {
    this.#echo = echo;
  }

  /** Takes typed text; returns the pieces it completes, in order. */
  feed(text: string): Piece[] {
    const out: Piece[] = [];
    for (const ch of text) {
      if (this.#ended) break;
      const cr = this.#afterCr;
      this.#afterCr = false;
      if (this.#escape) this.#skipEscape(ch);
      else if (ch === "\n" && cr) continue;
      else if (ch === "\r" || ch === "\n") {
        this.#afterCr = ch === "\r";
        this.#show("\r\n");
        out.push(this.#line);
        this.#line = "";
      } else this.#control(ch, out);
    }
    return out;
  }

  /** The input has ended: the line typed so far, if any, then end of input. */
  end(): Piece[] {
    if (this.#ended) return [];
    this.#ended = true;
    return this.#line === "" ? [null] : [this.#line, null];
  }

  #control(ch: string, out: Piece[]): void {
    const code = ch.charCodeAt(0);
    if (code in KEY_ECHO) {
      this.#line = "";
      this.#show(KEY_ECHO[code]);
      out.push(ch);
    } else if (code === 0x04) {
      if (this.#line === "") out.push(...this.end());
    } else if (code === 0x7f || code === 0x08) {
      if (this.#line === "") return;
      this.#line = [...this.#line].slice(0, -1).join("");
      this.#show("\b \b");
    } else if (code === 0x1b) this.#escape = 1;
    else if (code >= 0x20 || ch === "\t") {
      this.#line += ch;
      this.#show(ch);
    }
  }

  /** ESC [ params final, or ESC O x, or ESC x: swallowed whole. */
  #skipEscape(ch: string): void {
    const code = ch.charCodeAt(0);
    if (this.#escape === 1) this.#escape = ch === "[" || ch === "O" ? 2 : 0;
    else if (code >= 0x40 && code <= 0x7e) this.#escape = 0;
  }

  #show(text: string): void {
    if (text) this.#echo?.(text);
  }
}
