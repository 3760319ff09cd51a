/**
 * `deno task node`: one node in this process, joined to others over TCP (separate
 * Deno processes or hosts). It listens, joins the peers it is given, authenticates
 * them with the shared cluster secret, and runs init: the name clerk and the shell,
 * or with `--serve` nothing more (until killed), or with `--run` one program.
 *
 *   deno task node --id N --listen HOST:PORT [--join HOST:PORT]... --secret S
 *                  [--serve] [--run PROGRAM [ARGS...]] [kernel options]
 *                  (kernel options include --disk PATH[:SIZE], --disk-model ssd|1994
 *                  and --memory-mib N)
 *
 * The secret may also come from `--secret-file F`. The address actually bound is
 * printed on the error stream as "node N listening on HOST:PORT", and each link that
 * comes up as "node N: node M joined". A joined peer that goes away is rejoined with
 * backoff (tcp_transport.ts).
 */

import { Kernel } from "../kernel.ts";
import { MAILBOX_NODES } from "../abi/names.ts";
import {
  closeSwap,
  endOnSecondInterrupt,
  initArgs,
  kernelConfig,
  openDisks,
  openSwap,
  parseOptions,
  runCli,
  splitRun,
  UsageError,
} from "./cli.ts";
import { TerminalConsole } from "./console.ts";
import { TcpTransport } from "./tcp_transport.ts";
import { WorkerHost } from "./worker_host.ts";

const USAGE = "usage: deno task node --id N --listen HOST:PORT [--join HOST:PORT]... " +
  "(--secret S | --secret-file F) [--serve] [--run PROGRAM [ARGS...]]";

function address(text: string, what: string): { hostname: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${what} must be HOST:PORT, not "${text}"`);
  return { hostname: m[1].replace(/^\[(.*)\]$/, "$1"), port };
}

await runCli("node", USAGE, async () => {
  const { own, run } = splitRun(Deno.args);
  const values = parseOptions(own, {
    id: { type: "string" },
    listen: { type: "string" },
    join: { type: "string", multiple: true, default: [] },
    secret: { type: "string" },
    "secret-file": { type: "string" },
    serve: { type: "boolean", default: false },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const id = Number(values.id);
  if (values.id === undefined || !Number.isInteger(id) || id < 0 || id >= MAILBOX_NODES) {
    throw new UsageError(
      `--id must be a node number from 0 to ${MAILBOX_NODES - 1}, not "${values.id ?? ""}"`,
    );
  }
  if (!values.listen) throw new UsageError("--listen HOST:PORT is required");
  const listen = address(String(values.listen), "--listen");
  const joins = (values.join as string[]).map((j) => address(j, "--join"));
  const secret = values["secret-file"]
    ? Deno.readTextFileSync(String(values["secret-file"])).trim()
    : String(values.secret ?? "");
  if (secret.length < 8) {
    throw new UsageError("a cluster secret of at least 8 characters is required");
  }

  const console_ = new TerminalConsole();
  const disks = await openDisks(values);
  const kernel = new Kernel(new WorkerHost(), console_, { ...kernelConfig(values), nodeId: id });
  for (const d of disks) kernel.disks.add(d);
  const swap = await openSwap(values, id);
  if (swap) kernel.disks.add(swap.disk, { swap: true });
  const tcp = new TcpTransport(kernel, secret);
  // A node with a shell or a --run program: Ctrl-C is theirs (a headless one just ends).
  if (!values.serve) endOnSecondInterrupt("node", console_, () => kernel.halt());
  const bound = tcp.listen(listen.hostname, listen.port);
  console_.write(2, `node ${id} listening on ${bound.hostname}:${bound.port}\n`);
  tcp.onPeer = (node) => console_.write(2, `node ${id}: node ${node} joined\n`);
  // Programs start once the peers we joined are up (or their first attempts failed);
  // the transport keeps rejoining them either way.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(joins.map((j) => tcp.join(j.hostname, j.port))),
    new Promise((r) => timer = setTimeout(r, 5_000)),
  ]);
  clearTimeout(timer);
  const init = kernel.spawn("userland/programs/init.ts", initArgs(run, Boolean(values.serve)));
  const status = await init.exited;
  tcp.close();
  kernel.halt();
  console_.restore();
  for (const d of disks) await d.close();
  await closeSwap(swap);
  return status.status;
});
