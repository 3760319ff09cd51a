/**
 * The node's well-known services: kernel roles that a server process takes on by
 * a system call (the name clerk's `clerk_attach`; next, the file clerks and the
 * pagers). The registry says which process holds each role; when that process
 * ends, the kernel lets go of the service (`detach`), and a successor may attach.
 *
 * A role is held by one process at a time, and only by a process holding the
 * service capability (Cap.SERVICE), which the kernel records at spawn and only init
 * (for the servers of servers/table.ts) or the node's host (init; clerks in tests)
 * can hand out: never a user's program, an orphan init inherited, or `--run`'s
 * program. A capability, not a pid test: every orphan's parent is 1.
 */

import { Cap } from "../abi/layout.ts";
import { fail } from "../panic.ts";
import type { Process } from "./process.ts";

/** The kernel's half of a service, as the registry holds it. */
export interface Service {
  /** Its process ended: waiting requests fail, nothing more is sent to it. */
  detach(): void;
}

interface Held {
  readonly proc: Process;
  readonly service: Service;
}

export class ServiceRegistry {
  readonly #held = new Map<string, Held>();

  /** The running process holding `role`, or null. */
  holder(role: string): Process | null {
    const h = this.#held.get(role);
    return h && h.proc.state === "running" ? h.proc : null;
  }

  /** True if `p` holds `role`. */
  holds(p: Process, role: string): boolean {
    return this.#held.get(role)?.proc === p;
  }

  /**
   * Checks that `p` may take `role` now (it holds the service capability, and the
   * role is free); throws EPERM or EBUSY. Call before building the service.
   */
  checkAttach(role: string, p: Process): void {
    if (!(p.caps & Cap.SERVICE)) {
      fail(
        "EPERM",
        `pid ${p.pid} lacks the service capability: only a server init starts from ` +
          `servers/table.ts may hold ${role}`,
      );
    }
    const h = this.holder(role);
    if (h) fail("EBUSY", `pid ${h.pid} holds ${role}`);
  }

  /** `p` holds `role` from now on (checked by checkAttach). */
  attach(role: string, p: Process, service: Service): void {
    this.#held.set(role, { proc: p, service });
  }

  /** `p` ended: every role it held is let go. */
  release(p: Process): void {
    for (const [role, h] of this.#held) {
      if (h.proc !== p) continue;
      this.#held.delete(role);
      h.service.detach();
    }
  }
}
