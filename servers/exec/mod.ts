/**
 * The exec server: starts programs on this node for processes on other nodes. It
 * exports a segment named "exec.NODE" (writable by anyone in the cluster, notify on
 * request) and waits; a client writes a request there with one block WRITE with
 * the notify bit (userland/lib/sys/exec.ts), and the notification transfers control
 * here: the server reads the request and spawns the program. Started by init.
 *
 * Request layout: word 0 the length of the JSON that follows, {program, args}.
 * One request at a time: a demo-grade server, not a job scheduler.
 */

import {
  bind,
  CreateSegment,
  EXEC_REQUEST_BYTES,
  execName,
  exportSegment,
  load32,
  nodeId,
  NotifyPolicy,
  println,
  read,
  Rights,
  SegMode,
  SegUnit,
  SignalHandler,
  SigWait,
  spawn,
  SysError,
  wait,
} from "../../userland/lib/mod.ts";

export default function main(): number {
  const segment = CreateSegment(
    EXEC_REQUEST_BYTES,
    SegMode.NORMAL,
    SegUnit.CACHE_LINE,
    NotifyPolicy.CONDITIONAL,
  );
  const base = bind(segment);
  const requests: string[] = [];
  SignalHandler(base, EXEC_REQUEST_BYTES, () => {
    const len = Math.min(load32(base), EXEC_REQUEST_BYTES - 4);
    requests.push(new TextDecoder().decode(read(base + 4, len)));
  });
  // Ready once exported: init and startOn wait for the name. While the node's name
  // clerk is still starting, the kernel holds the export until it has attached.
  exportSegment(segment, execName(nodeId()), Rights.READ | Rights.WRITE);
  for (;;) {
    SigWait(1_000);
    for (let text = requests.shift(); text !== undefined; text = requests.shift()) {
      let program = text;
      try {
        const request = JSON.parse(text);
        program = [request.program, ...(request.args ?? [])].join(" ");
        // Its output is labelled with node and pid: whoever asked is elsewhere.
        const args = Array.isArray(request.args) ? request.args.map(String) : [];
        spawn(String(request.program), args, { label: true });
      } catch (e) {
        const why = e instanceof SysError && e.detail ? `${e.detail} (${e.code})` : String(e);
        println(`exec.${nodeId()}: cannot start ${program}: ${why}`);
      }
    }
    reapChildren();
  }
}

function reapChildren(): void {
  for (;;) {
    try {
      wait(-1, 0);
    } catch (e) {
      if (e instanceof SysError && (e.code === "EAGAIN" || e.code === "ECHILD")) return;
      throw e;
    }
  }
}
