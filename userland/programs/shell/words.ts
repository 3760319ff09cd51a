/**
 * The shell's command line, split into words as sh does: blanks separate words;
 * "double quotes" keep blanks and expand `$?`; 'single quotes' keep everything;
 * a backslash quotes the next character (inside double quotes only `"`, `\` and
 * `$`); `$?` outside single quotes is the last command's status; an unquoted `&`
 * at the end runs the command in the background.
 */

/** A mistake in a command line or a command's arguments, said as the message. */
export class CommandError extends Error {}

export interface CommandLine {
  words: string[];
  /** Ended with an unquoted `&`. */
  background: boolean;
}

/** Splits `line`, `$?` standing for `status`; throws CommandError on an open quote. */
export function splitWords(line: string, status: number): CommandLine {
  const words: string[] = [];
  let word = "", inWord = false, quote = "", background = false;
  const end = () => {
    if (inWord) words.push(word);
    word = "";
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i], next = line[i + 1] ?? "";
    if (quote === "'") {
      if (c === "'") quote = "";
      else word += c;
    } else if (c === "\\" && next !== "" && (quote === "" || `"\\$`.includes(next))) {
      word += next;
      inWord = true;
      i++;
    } else if (c === "$" && next === "?") {
      word += String(status);
      inWord = true;
      i++;
    } else if (quote === '"') {
      if (c === '"') quote = "";
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "&" && line.slice(i + 1).trim() === "") {
      end();
      background = true;
      break;
    } else if (/\s/.test(c)) end();
    else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new CommandError(`unterminated ${quote === '"' ? "double" : "single"} quote`);
  end();
  return { words, background };
}
