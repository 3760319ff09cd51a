/**
 * Error codes returned across the trap boundary. One table, read by the kernel's
 * dispatch, the userland stubs (which turn a non-zero code into a `SysError`), the
 * shell's messages and the tests.
 *
 * Numbers follow Linux so a reader recognises them; a trap returns 0 in the status
 * word on success and one of these on failure (never a JavaScript exception).
 */

export const Errno = {
  OK: 0,
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  EMLINK: 31,
  EPIPE: 32,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  EMSGSIZE: 90,
  ETIMEDOUT: 110,
  EHOSTDOWN: 112,
  ESTALE: 116,
} as const;

export type ErrnoName = Exclude<keyof typeof Errno, "OK">;

const MESSAGES: Record<ErrnoName, string> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or name",
  ESRCH: "No such process",
  EINTR: "Interrupted",
  EIO: "Input/output error",
  E2BIG: "Argument list too long",
  ENOEXEC: "Not a program",
  EBADF: "Bad descriptor",
  ECHILD: "No child processes",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Out of memory",
  EFAULT: "Bad address",
  EBUSY: "Resource busy",
  EEXIST: "Already exists",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  ENFILE: "Too many descriptors open on the node",
  EMFILE: "Too many descriptors open",
  EFBIG: "File too large",
  ENOSPC: "No space left",
  EROFS: "Read-only file system",
  EMLINK: "Too many links",
  EPIPE: "The other end is closed",
  ENAMETOOLONG: "File name too long",
  ENOSYS: "Function not implemented",
  ENOTEMPTY: "Directory not empty",
  EMSGSIZE: "Message too long",
  ETIMEDOUT: "Timed out",
  EHOSTDOWN: "Host is down",
  ESTALE: "Stale handle",
};

const NAMES = new Map<number, ErrnoName>(
  (Object.keys(MESSAGES) as ErrnoName[]).map((name) => [Errno[name], name]),
);

/** Returns the symbolic name of an error number, or `E<n>` for an unknown one. */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `E${errno}`;
}

/** Returns the one-line description of an error number. */
export function errnoMessage(errno: number): string {
  const name = NAMES.get(errno);
  return name ? MESSAGES[name] : `Unknown error ${errno}`;
}

/**
 * A failed system call or a library call given a bad argument, thrown by userland
 * (never by the kernel, which returns codes): the one error type for API misuse,
 * whether the kernel or the runtime caught it. `code` is the symbolic name, e.g.
 * `"EINVAL"`; `errno` its number.
 */
export class SysError extends Error {
  readonly errno: number;
  readonly code: string;
  /** What the kernel said about this failure ("no process 999"), or "". */
  readonly detail: string;
  constructor(errno: number, call: string, detail?: string) {
    const name = errnoName(errno);
    super(`${call}: ${name} (${errnoMessage(errno)})${detail ? `: ${detail}` : ""}`);
    this.name = "SysError";
    this.errno = errno;
    this.code = name;
    this.detail = detail ?? "";
  }
}
