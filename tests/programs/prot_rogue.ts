/**
 * A rogue program attacking the node's system servers (tests/protection_test.ts,
 * issue 11 hole 6). Run by init as the `--run` program, so its parent is init (pid
 * 1), as every orphan's is: the old rule let any such process attach as the clerk.
 *
 *   prot_rogue.ts services   the attacks below, then shows the node still serving
 *   prot_rogue.ts mid SEG    spawns an `orphan` sharing SEG and exits at once
 *   prot_rogue.ts orphan SEG waits until init adopted it, then attacks; stores 1 in SEG
 *   prot_rogue.ts shell      run by the shell: tries to kill it, its parent
 *   prot_rogue.ts squat      reports {who: "squat", ready}, then exports exec.N over
 *                            and over until SIGHUP: {who: "squat", tally}
 *
 * RESULT lines: {who: "orphan", ppid, attach, killClerk, killExec}; then
 * {who: "rogue", ...} with every attack's code, and {who: "rogue", alive: ...}.
 */

import {
  bind,
  Cap,
  clerkAttach,
  CreateSegment,
  execName,
  exportSegment,
  getpid,
  getppid,
  importSegment,
  info,
  kill,
  load32,
  nodeId,
  Rights,
  Sig,
  signalAddress,
  SignalHandler,
  SigWait,
  spawn,
  store32,
  wait,
  waitForName,
} from "../../userland/lib/mod.ts";
import { MAILBOX_BYTES, REGISTRY_BYTES } from "../../userland/lib/sys/names.ts";
import { attempt, report } from "./report.ts";

const SELF = new URL(import.meta.url).href;

/** The running process whose module ends with `suffix` (a system server), from ps. */
function pidOf(suffix: string): number {
  const row = info("ps").find((p: any) => p.state === "running" && p.module.endsWith(suffix));
  if (!row) throw new Error(`no ${suffix} running`);
  return row.pid;
}

/** Every attempt's outcome, counted by code: {EPERM: 1000}. */
function tally(n: number, fn: () => unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = attempt(fn);
    const key = typeof r === "string" ? r : "ok";
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

function attach(): unknown {
  return attempt(() => clerkAttach(CreateSegment(REGISTRY_BYTES), CreateSegment(MAILBOX_BYTES)));
}

function orphan(seg: number): number {
  const at = bind(seg);
  const deadline = performance.now() + 10_000;
  while (getppid() !== 1 && performance.now() < deadline) SigWait(5);
  report({
    who: "orphan",
    ppid: getppid(),
    attach: attach(),
    killClerk: attempt(() => kill(pidOf("servers/names/mod.ts"), Sig.SIGKILL)),
    killExec: attempt(() => kill(pidOf("servers/exec/mod.ts"), Sig.SIGKILL)),
  });
  store32(at, 1);
  return 0;
}

function services(): number {
  const clerk = pidOf("servers/names/mod.ts");
  const exec = pidOf("servers/exec/mod.ts");
  waitForName(execName(nodeId()), 10_000); // the exec server is up: its name is taken
  const dropsBefore = info("ps").filter((p: any) => p.pid === clerk || p.pid === exec)
    .map((p: any) => p.signalsDropped);

  // An orphan (adopted by init) attacks too, and says when it is done.
  const seg = CreateSegment(4096);
  const at = bind(seg);
  const mid = spawn(SELF, ["mid", String(seg)], {
    share: [{ segment: seg, rights: Rights.READ | Rights.WRITE }],
  });
  wait(mid, 10_000);
  const deadline = performance.now() + 10_000;
  while (load32(at) !== 1 && performance.now() < deadline) SigWait(5);

  report({
    who: "rogue",
    ppid: getppid(),
    clerk,
    exec,
    // Kill the clerk, then take its place: both refused.
    killClerk: attempt(() => kill(clerk, Sig.SIGKILL)),
    termClerk: attempt(() => kill(clerk, Sig.SIGTERM)),
    attach: attach(),
    // Kill the exec server, then export its name: refused, and the name is still its.
    killExec: attempt(() => kill(exec, Sig.SIGKILL)),
    squatExec: attempt(() => exportSegment(CreateSegment(4096), execName(nodeId()))),
    killInit: attempt(() => kill(1, Sig.SIGKILL)),
    // Capabilities come from init alone.
    spawnService: attempt(() => spawn(SELF, ["orphan", "0"], { caps: Cap.SERVICE })),
    spawnUser: attempt(() => spawn(SELF, ["orphan", "0"], { caps: Cap.USER })),
    spawnReserve: attempt(() => spawn(SELF, ["orphan", "0"], { reserve: ["mine"] })),
    // A flood of handled-or-not signals to processes it shares nothing with.
    hupClerk: tally(1000, () => kill(clerk, Sig.SIGHUP)),
    hupExec: tally(1000, () => kill(exec, Sig.SIGHUP)),
    // Its own child it may signal.
    ownChild: (() => {
      const c = spawn(SELF, ["idle"]);
      const sent = attempt(() => (kill(c, Sig.SIGKILL), "ok"));
      return { sent, status: wait(c, 10_000).status };
    })(),
  });

  // The node still serves: the same servers, no signal dropped, names through the clerk.
  const ps = info("ps");
  const alive = (pid: number) => ps.some((p: any) => p.pid === pid && p.state === "running");
  const name = `prot.${getpid()}`;
  exportSegment(CreateSegment(4096), name);
  report({
    who: "rogue",
    alive: {
      clerk: alive(clerk),
      exec: alive(exec),
      drops: ps.filter((p: any) => p.pid === clerk || p.pid === exec)
        .map((p: any) => p.signalsDropped),
      dropsBefore,
      imported: attempt(() => importSegment(name).size),
      execName: attempt(() => waitForName(execName(nodeId()), 5_000).size),
    },
  });
  return 0;
}

export default function main(args: string[]): number {
  const [mode, arg] = args;
  if (mode === "services") return services();
  if (mode === "mid") {
    const seg = Number(arg);
    spawn(SELF, ["orphan", arg], { share: [{ segment: seg, rights: Rights.READ | Rights.WRITE }] });
    return 0; // its child is init's from now on
  }
  if (mode === "orphan") return orphan(Number(arg));
  if (mode === "squat") {
    let stop = false;
    SignalHandler(signalAddress(Sig.SIGHUP), 4, () => stop = true);
    const seg = CreateSegment(4096);
    report({ who: "squat", ready: true });
    const tally: Record<string, number> = {};
    while (!stop) {
      const r = attempt(() => exportSegment(seg, execName(nodeId())));
      const key = typeof r === "string" ? r : "ok";
      tally[key] = (tally[key] ?? 0) + 1;
    }
    report({ who: "squat", tally });
    return 0;
  }
  if (mode === "shell") {
    // Run by the shell: it may not signal its parent.
    report({
      who: "shell-child",
      ppid: getppid(),
      kill: attempt(() => kill(getppid(), Sig.SIGKILL)),
      hup: attempt(() => kill(getppid(), Sig.SIGHUP)),
    });
    return 0;
  }
  if (mode === "idle") {
    for (;;) SigWait(1000);
  }
  throw new Error(`prot_rogue: unknown mode ${mode}`);
}
