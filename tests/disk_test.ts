/**
 * The disk device end to end: real sandboxed drivers (tests/programs/disk_driver.ts)
 * on the driver library, a disk image in a host file under /tmp (kernel/host/
 * host_disk.ts). What was written reads back across a node restart and a reopen
 * of the image; a flush is on the host file when it completes; bad commands,
 * a scribbled ring and bystanders get typed errors while the node goes on.
 */

import assert from "node:assert/strict";

import { Errno } from "../kernel/abi/errors.ts";
import { DiskFault } from "../kernel/abi/disk.ts";
import {
  DEFAULT_DISK_BYTES,
  HostDisk,
  hostErrno,
  parseDiskSpec,
} from "../kernel/host/host_disk.ts";
import { kernelConfig, openDisks, parseOptions, UsageError } from "../kernel/host/cli.ts";
import { program, TestNode, withNode } from "./helpers.ts";

/** Temporary directories this file made, removed when it has run. */
const made: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const dir of made) Deno.removeSync(dir, { recursive: true });
});

async function tempDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "disk_test_" });
  made.push(dir);
  return dir;
}

async function tempImage(): Promise<string> {
  return `${await tempDir()}/disk.img`;
}

/** Runs the driver scenario `args` on `node`; returns its one RESULT, checking it exited 0. */
async function drive(node: TestNode, args: string[]): Promise<any> {
  const before = node.results().length;
  const st = await node.run("disk_driver", args, 30_000);
  assert.equal(st.status, 0, `${args.join(" ")}: ${st.reason}\n${node.console.err}`);
  return node.results()[before];
}

Deno.test("disk: written bytes read back, across a node restart and a reopen of the image", async () => {
  const path = await tempImage();
  const disk = await HostDisk.open(path, 1024 * 1024);
  await withNode(async (node) => {
    node.kernel.disks.add(disk);
    assert.deepEqual(await drive(node, ["write"]), { flushed: true });
    // A second driver of the same node (the first has exited) reads what it wrote.
    assert.deepEqual(await drive(node, ["read"]), {
      firstBad: -1,
      text: "written before the restart",
    });
  });
  await disk.close();
  // A new node on the image reopened from the host file.
  const again = await HostDisk.open(path);
  assert.equal(again.size, 1024 * 1024);
  await withNode(async (node) => {
    node.kernel.disks.add(again);
    assert.deepEqual(await drive(node, ["read"]), {
      firstBad: -1,
      text: "written before the restart",
    });
  });
  await again.close();
});

Deno.test("disk: when a flush completes the bytes are in the host file", async () => {
  const path = await tempImage();
  const disk = await HostDisk.open(path, 256 * 1024);
  await withNode(async (node) => {
    node.kernel.disks.add(disk);
    await drive(node, ["write"]);
    // Read by the test through the host, with the node still running.
    const bytes = await Deno.readFile(path);
    assert.equal(bytes.length, 256 * 1024);
    for (let i = 0; i < 65536; i += 997) assert.equal(bytes[i], (i * 7 + 3) & 0xff, `byte ${i}`);
    const text = new TextDecoder().decode(bytes.subarray(65536 + 12288, 65536 + 12288 + 26));
    assert.equal(text, "written before the restart");
  });
  await disk.close();
});

Deno.test("disk: bad commands and a scribbled ring complete with typed errors; the disk goes on", async () => {
  const disk = await HostDisk.open(await tempImage(), 256 * 1024);
  await withNode(async (node) => {
    node.kernel.disks.add(disk);
    const r = await drive(node, ["errors"]);
    assert.deepEqual(r, {
      range: "EINVAL",
      rangeEnd: "EINVAL",
      misaligned: "EINVAL",
      shortLength: "EINVAL",
      tooLong: "EINVAL",
      unmapped: "EFAULT",
      unknownOp: [Errno.ENOSYS, DiskFault.OP],
      ring: [Errno.EINVAL, DiskFault.RING, 1],
      after: "ok",
      grant: "EPERM",
      export: "EPERM",
      attachAgain: "EBUSY",
      noDisk: "ENOENT",
    });
    // The node is still serving.
    assert.deepEqual(await drive(node, ["model"]), { model: "ssd", size: 256 * 1024 });
  });
  await disk.close();
});

Deno.test("disk: only the driver binds the device segment; a second driver waits until it ends", async () => {
  const disk = await HostDisk.open(await tempImage(), 256 * 1024);
  await withNode(async (node) => {
    node.kernel.disks.add(disk);
    const driver = node.spawn("disk_driver", ["hold"]);
    await node.until(() => node.results().length === 1, 15_000, "the driver to attach");
    const { segment } = node.results()[0];
    assert.deepEqual(await drive(node, ["bystander", String(segment)]), {
      bind: "EPERM",
      attach: "EBUSY",
    });
    // No service capability: no disk, even while nobody drives it.
    const nocap = node.kernel.spawn(program("disk_driver"), ["attach", "0"], { caps: 0 });
    assert.equal((await node.exited(nocap)).status, 0);
    assert.deepEqual(node.results()[2], { attach: "EPERM" });
    node.kernel.signalProcess(driver, 9, 0);
    await node.exited(driver);
    // Its end let the disk go: the next driver attaches and works.
    assert.deepEqual(await drive(node, ["write"]), { flushed: true });
  });
  await disk.close();
});

Deno.test("disk: 64 commands in flight each complete once, and read back", async () => {
  const disk = await HostDisk.open(await tempImage(), 1024 * 1024);
  await withNode(async (node) => {
    node.kernel.disks.add(disk);
    const r = await drive(node, ["concurrent", "64"]);
    assert.deepEqual({ ...r, inOrder: undefined }, {
      completed: 64,
      errors: 0,
      wrong: 0,
      left: null,
      inOrder: undefined,
    });
  });
  await disk.close();
});

Deno.test("disk: --disk-model 1994 drives the same commands under the slow model", async () => {
  const disk = await HostDisk.open(await tempImage(), 256 * 1024);
  await withNode(async (node) => {
    node.kernel.disks.add(disk);
    assert.deepEqual(await drive(node, ["model"]), { model: "1994", size: 256 * 1024 });
    const r = await drive(node, ["concurrent", "4"]);
    assert.equal(r.completed, 4);
    assert.equal(r.wrong, 0);
    assert.equal(r.inOrder, true, "one actuator completes in the order taken");
  }, { diskModel: "1994" });
  await disk.close();
});

Deno.test("disk: on the software signal path the doorbell and the interrupts work the same", async () => {
  const disk = await HostDisk.open(await tempImage(), 256 * 1024);
  await withNode(async (node) => {
    node.kernel.disks.add(disk);
    const r = await drive(node, ["concurrent", "16"]);
    assert.deepEqual([r.completed, r.errors, r.wrong], [16, 0, 0]);
  }, { signalPath: "software" });
  await disk.close();
});

Deno.test("HostDisk.open() makes a missing image, keeps an existing one's size, and refuses a mismatch", async () => {
  const path = await tempImage();
  const d = await HostDisk.open(path);
  assert.equal(d.size, DEFAULT_DISK_BYTES);
  assert.equal((await Deno.stat(path)).size, DEFAULT_DISK_BYTES);
  await d.close();
  assert.equal(await d.flush().then((f) => f?.errno), Errno.EIO, "a closed image fails, typed");
  await assert.rejects(HostDisk.open(path, 4096), /is 67108864 bytes, not the 4096 asked for/);
  const ok = await HostDisk.open(path, DEFAULT_DISK_BYTES);
  await ok.close();
});

Deno.test("the host's errors map to ENOSPC, EPERM and EIO", () => {
  const full = Object.assign(new Error("No space left on device (os error 28)"), {
    code: "ENOSPC",
  });
  assert.equal(hostErrno(full), Errno.ENOSPC);
  assert.equal(hostErrno(new Deno.errors.PermissionDenied("Permission denied")), Errno.EPERM);
  assert.equal(hostErrno(new Deno.errors.NotCapable("Requires write access")), Errno.EPERM);
  assert.equal(hostErrno(new Error("Input/output error (os error 5)")), Errno.EIO);
});

Deno.test("--disk PATH[:SIZE] and --disk-model parse, and a bad one is a usage error", async () => {
  assert.deepEqual(parseDiskSpec("/tmp/a.img"), { path: "/tmp/a.img", size: null });
  assert.deepEqual(parseDiskSpec("/tmp/a.img:64M"), { path: "/tmp/a.img", size: 64 * 1024 ** 2 });
  assert.deepEqual(parseDiskSpec("b.img:4096"), { path: "b.img", size: 4096 });
  assert.throws(() => parseDiskSpec("b.img:1000"), /multiple of 512/);
  const v = parseOptions(["--disk", "/tmp/x:1M", "--disk", "/tmp/y", "--disk-model", "1994"], {});
  assert.deepEqual(v.disk, ["/tmp/x:1M", "/tmp/y"]);
  assert.equal(kernelConfig(v).diskModel, "1994");
  assert.throws(() => kernelConfig(parseOptions(["--disk-model", "floppy"], {})), UsageError);
  const dir = await tempDir();
  await assert.rejects(openDisks({ disk: [`${dir}/a.img:512`, `${dir}/a.img:1024`] }), UsageError);
  const disks = await openDisks({ disk: [`${dir}/b.img:1K`, `${dir}/c.img:2K`] });
  assert.deepEqual(disks.map((d) => d.size), [1024, 2048]);
  for (const d of disks) await d.close();
});
