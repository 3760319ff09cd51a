/**
 * Reading the project's own sources, for the tests that check them as text (the
 * architecture test's import rules, the ABI test's stub calls), and type-checking
 * them (`denoCheck`).
 */

/** The project root. */
export const ROOT = new URL("../", import.meta.url);

/**
 * Runs `deno check` on `paths` (files or folders) with the project's deno.json and
 * the programs' import map, from the root; returns whether it passed and its output.
 */
export async function denoCheck(paths: string[]): Promise<{ ok: boolean; output: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "check",
      "--quiet",
      "--no-remote",
      "--no-npm",
      "--no-lock",
      `--config=${new URL("deno.json", ROOT).pathname}`,
      `--import-map=${new URL("kernel/host/program_imports.json", ROOT).pathname}`,
      ...paths,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { ok: r.success, output: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** The .ts files under `dir` (a path from the root), recursively. */
export function* files(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(new URL(dir, ROOT))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* files(path);
    else if (e.name.endsWith(".ts")) yield path;
  }
}

/** A source file's text, by its path from the root. */
export function read(path: string): string {
  return Deno.readTextFileSync(new URL(path, ROOT));
}

/** `src` with its comments blanked out (newlines kept, so lines keep their numbers). */
export function blankComments(src: string): string {
  let out = "";
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (ch === '"' || ch === "'" || ch === "`") {
      const from = i;
      for (i++; i < src.length && src[i] !== ch; i++) if (src[i] === "\\") i++;
      out += src.slice(from, i + 1);
    } else if (ch === "/" && (src[i + 1] === "/" || src[i + 1] === "*")) {
      const end = src[i + 1] === "/"
        ? (src.indexOf("\n", i) + 1 || src.length + 1) - 1
        : src.indexOf("*/", i) + 2;
      out += src.slice(i, end).replace(/[^\n]/g, " ");
      i = end - 1;
    } else out += ch;
  }
  return out;
}
