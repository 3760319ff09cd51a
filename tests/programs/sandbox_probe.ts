/**
 * Probes the sandbox: every host capability a process might reach for without the
 * kernel. Reports, per probe, "allowed" or the name of the error it got.
 */

import { report } from "./report.ts";

async function probe(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return "allowed";
  } catch (e) {
    return e instanceof Error ? e.name : String(e);
  }
}

export default async function main(): Promise<number> {
  const projectFile = new URL("../../deno.json", import.meta.url);
  const results = {
    readEtc: await probe(() => Deno.readTextFileSync("/etc/hostname")),
    readProject: await probe(() => Deno.readTextFileSync(projectFile)),
    readProjectAsync: await probe(() => Deno.readTextFile(projectFile)),
    statProject: await probe(() => Deno.statSync(projectFile)),
    writeTmp: await probe(() => Deno.writeTextFileSync("/tmp/sandbox_probe.txt", "x")),
    connect: await probe(async () =>
      (await Deno.connect({ hostname: "127.0.0.1", port: 8080 })).close()
    ),
    listen: await probe(() => Deno.listen({ hostname: "127.0.0.1", port: 0 }).close()),
    envGet: await probe(() => Deno.env.get("HOME")),
    command: await probe(() => new Deno.Command("true").outputSync()),
    fetchFile: await probe(async () => await (await fetch(projectFile)).text()),
    fetchHttp: await probe(async () => await (await fetch("http://127.0.0.1:8080/")).text()),
    hostname: await probe(() => Deno.hostname()),
  };
  report(results);
  return 0;
}
