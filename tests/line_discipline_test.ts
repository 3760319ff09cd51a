/**
 * The host's line discipline (kernel/host/line_discipline.ts): lines, control keys
 * and end of input from typed characters, with echo and editing for a raw terminal.
 */

import assert from "node:assert/strict";
import { LineDiscipline } from "../kernel/host/line_discipline.ts";

Deno.test("LineDiscipline splits lines at \\n, \\r and \\r\\n (once)", () => {
  const d = new LineDiscipline();
  assert.deepEqual(d.feed("a b\nc\r\nd\re"), ["a b", "c", "d"]);
  assert.deepEqual(d.feed("\n"), ["e"]);
  assert.deepEqual(d.end(), [null]);
  assert.deepEqual(d.feed("more\n"), [], "nothing after end of input");
});

Deno.test("LineDiscipline hands Ctrl-C, Ctrl-L and Ctrl-Z over as keys, dropping the line", () => {
  const d = new LineDiscipline();
  assert.deepEqual(d.feed("half\x03ls\n\x0c\x1a"), ["\x03", "ls", "\x0c", "\x1a"]);
});

Deno.test("LineDiscipline: Ctrl-D ends input on an empty line only; end() keeps a last line", () => {
  const d = new LineDiscipline();
  assert.deepEqual(d.feed("ab\x04c\n\x04"), ["abc", null]);
  const e = new LineDiscipline();
  assert.deepEqual(e.feed("tail"), []);
  assert.deepEqual(e.end(), ["tail", null]);
});

Deno.test("LineDiscipline in raw mode echoes, erases with backspace, and skips escape sequences", () => {
  let shown = "";
  const d = new LineDiscipline((text) => shown += text);
  assert.deepEqual(d.feed("lx\x7fs\x1b[A\x1bOB -l\r"), ["ls -l"]);
  assert.equal(shown, "lx\b \bs -l\r\n");
  shown = "";
  assert.deepEqual(d.feed("\x7f\x03"), ["\x03"], "backspace on an empty line does nothing");
  assert.equal(shown, "^C");
});
