/**
 * The shell's jobs: every program it starts with `run` is a job, numbered from 1
 * (the next number is one more than the highest in use, as in sh). A job runs in
 * the foreground (the shell waits for it and sends it SIGINT on Ctrl-C) or in the
 * background; when it ends it is reaped, its status reported ("[2] exited 0",
 * "[1] killed by SIGINT") and its number freed. Jobs are never stopped (the kernel
 * has no stopped state): Ctrl-Z leaves a foreground job running in the background.
 */

import { EXIT_KILLED_BASE, SIGNAL_NAMES, type WaitResult } from "../../lib/mod.ts";
import { CommandError } from "./words.ts";

export interface Job {
  readonly id: number;
  readonly pid: number;
  readonly command: string;
}

/** What a child's end says, briefly: "exited 0", "killed by SIGTERM", "crashed: … (status 134)". */
export function describeExit(r: { status: number; reason: string }): string {
  const signo = r.status - EXIT_KILLED_BASE;
  if (signo > 0 && r.reason.startsWith("killed by")) {
    return `killed by ${SIGNAL_NAMES[signo] ?? `signal ${signo}`}`;
  }
  if (r.status >= EXIT_KILLED_BASE) return `${r.reason} (status ${r.status})`;
  const own = r.reason === `exited with status ${r.status}` ? "" : `: ${r.reason}`;
  return `exited ${r.status}${own}`;
}

export class JobTable {
  readonly #jobs = new Map<number, Job>();

  /** Records a started program as a new job. */
  add(pid: number, command: string): Job {
    const id = Math.max(0, ...this.#jobs.keys()) + 1;
    const job = { id, pid, command };
    this.#jobs.set(id, job);
    return job;
  }

  has(job: Job): boolean {
    return this.#jobs.get(job.id) === job;
  }

  /** Forgets the job of a reaped child; returns it, or null if it was none of ours. */
  finish(r: WaitResult): Job | null {
    for (const job of this.#jobs.values()) {
      if (job.pid !== r.pid) continue;
      this.#jobs.delete(job.id);
      return job;
    }
    return null;
  }

  /** The job `spec` names ("2" or "%2"; absent, the newest); throws CommandError. */
  find(spec: string | undefined): Job {
    if (spec === undefined) {
      const newest = [...this.#jobs.values()].at(-1);
      if (!newest) throw new CommandError("no jobs");
      return newest;
    }
    const m = /^%?(\d+)$/.exec(spec);
    const job = m ? this.#jobs.get(Number(m[1])) : undefined;
    if (!job) throw new CommandError(`no job ${spec} (see "jobs")`);
    return job;
  }

  all(): Job[] {
    return [...this.#jobs.values()];
  }
}
