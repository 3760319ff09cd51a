/**
 * The segment name service (000 §4): export by name, import through the node's clerk,
 * which looks a name up in its own registry, then in its cache, then by remote READs
 * of the hinted node's registry (probing on a hash collision, §4.2).
 *
 * The owner-side count of served remote requests (`node.remote.stats.served`) counts
 * the clerks' registry READs; heartbeats and clerk refreshes are turned off so that
 * nothing else is served.
 */

import assert from "node:assert/strict";
import { nameHash } from "../kernel/abi/names.ts";
import type { Process } from "../kernel/proc/process.ts";
import { QUIET, type Step, stuck, until } from "./remote_helpers.ts";
import { TestCluster, withDeadline } from "./helpers.ts";

/** A running tests/programs/rm_script.ts (see its header). */
class Script {
  readonly proc: Process;

  constructor(readonly c: TestCluster, readonly node: number, readonly who: string, steps: Step[]) {
    this.proc = c.spawn(node, "rm_script", [who, JSON.stringify(steps)]);
  }

  steps(): any[] {
    const out: any[] = [];
    for (const r of this.c.results()) {
      if (r.who === this.who && r.step !== undefined) out[r.step] = r;
    }
    return out;
  }

  async step(i: number): Promise<any> {
    await until(this.c, () => this.steps()[i] !== undefined, `${this.who} step ${i}`);
    return this.steps()[i];
  }

  async set(word: number, value: number): Promise<void> {
    await until(this.c, () => this.c.results().some((r) => r.who === this.who), this.who);
    const ctl = this.c.results().find((r) => r.who === this.who).ctl;
    Atomics.store(this.c.node(this.node).segments.get(ctl)!.words, word, value);
  }

  async finished(): Promise<any[]> {
    const st = await withDeadline(this.proc.exited, 10_000, `${this.who} to exit`)
      .catch((e) => {
        throw new Error(`${e.message}\n${stuck(this.c)}\n${this.c.console.out}`);
      });
    assert.equal(st.status, 0, `${st.reason}\n${this.c.console.out}${this.c.console.err}`);
    return this.steps();
  }
}

/** A cluster with quiet kernels and clerks that never refresh; always halted. */
async function withQuietCluster(fn: (c: TestCluster) => Promise<void>): Promise<void> {
  const c = new TestCluster(2, QUIET);
  try {
    await c.startClerks(600_000);
    await fn(c);
  } finally {
    c.close();
    await new Promise((r) => setTimeout(r, 0));
  }
}

/** Exports one segment per name from one process on node 0; resolves once all are done. */
async function exporter(c: TestCluster, names: string[], who = "owner"): Promise<Script> {
  const steps: Step[] = [];
  for (const name of names) {
    steps.push({ op: "segment", as: name, size: 4096 });
    steps.push({ op: "export", seg: name, name });
  }
  steps.push({ op: "serve" });
  const s = new Script(c, 0, who, steps);
  await s.step(steps.length - 1);
  return s;
}

const served = (c: TestCluster) => c.node(0).remote.stats.served;
const encoder = new TextEncoder();

Deno.test("import with a hint reads the registry once; a second import is served from the clerk's cache", async () => {
  await withQuietCluster(async (c) => {
    const o = await exporter(c, ["alpha"]);
    const segment = o.steps()[0].segment;
    const s0 = served(c);
    const cl = new Script(c, 1, "client", [
      { op: "import", name: "alpha", hint: 0, as: "uncached" }, // 0
      { op: "wait", word: 0, value: 1 }, // 1
      { op: "import", name: "alpha", as: "cached" }, // 2 (no hint: only the cache knows it)
      { op: "wait", word: 0, value: 2 }, // 3
      { op: "import", name: "alpha", hint: 0, force: true, as: "forced" }, // 4
      { op: "wait", word: 0, value: 3 }, // 5
      { op: "write", d: "cached", off: 0, data: [1, 2] }, // 6
      { op: "write", d: "forced", off: 2, data: [3, 4] }, // 7
      { op: "read", d: "uncached", off: 0, count: 4 }, // 8
    ]);
    const first = await cl.step(0);
    assert.equal(first.size, 4096, JSON.stringify(first));
    assert.equal(served(c) - s0, 1, "one remote READ of node 0's registry");
    await cl.set(0, 1);
    const second = await cl.step(2);
    assert.equal(second.error, undefined, JSON.stringify(second));
    assert.equal(second.size, 4096);
    assert.notEqual(second.desc, first.desc, "a new descriptor");
    assert.equal(served(c) - s0, 1, "the cached import read nothing remotely");
    await cl.set(0, 2);
    const forced = await cl.step(4);
    assert.equal(forced.error, undefined, JSON.stringify(forced));
    assert.equal(served(c) - s0, 2, "a forced import reads the registry again");
    await cl.set(0, 3);
    const r = await cl.finished();
    assert.deepEqual(r[8].data, [1, 2, 3, 4], "all three descriptors name one segment");
    assert.deepEqual([...c.node(0).segments.get(segment)!.bytes.subarray(0, 4)], [1, 2, 3, 4]);
  });
});

Deno.test("import of a name whose hash collides probes the remote registry with more READs", async () => {
  await withQuietCluster(async (c) => {
    // Two names with one hash: the second is entered one slot further on.
    const byHash = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const name = `col-${i}`;
      const h = nameHash(encoder.encode(name));
      const other = byHash.get(h);
      if (other) pair = [other, name];
      else byHash.set(h, name);
    }
    const [a, b] = pair;
    assert.equal(nameHash(encoder.encode(a)), nameHash(encoder.encode(b)));
    const o = await exporter(c, [a, b]);
    const [segA, segB] = [o.steps()[0].segment, o.steps()[2].segment];
    const s0 = served(c);
    const cl = new Script(c, 1, "client", [
      { op: "import", name: b, hint: 0 }, // 0
      { op: "wait", word: 0, value: 1 }, // 1
      { op: "import", name: a, hint: 0 }, // 2
      { op: "wait", word: 0, value: 2 }, // 3
      { op: "write", d: b, off: 0, data: [0xbb] }, // 4
      { op: "write", d: a, off: 0, data: [0xaa] }, // 5
    ]);
    const rb = await cl.step(0);
    assert.equal(rb.error, undefined, JSON.stringify(rb));
    assert.ok(served(c) - s0 >= 2, `the collided name took ${served(c) - s0} READs (>= 2)`);
    const s1 = served(c);
    await cl.set(0, 1);
    const ra = await cl.step(2);
    assert.equal(ra.error, undefined, JSON.stringify(ra));
    assert.equal(served(c) - s1, 1, "the first name sits at its own slot: one READ");
    await cl.set(0, 2);
    await cl.finished();
    // Each descriptor names its own segment.
    assert.equal(c.node(0).segments.get(segB)!.bytes[0], 0xbb);
    assert.equal(c.node(0).segments.get(segA)!.bytes[0], 0xaa);
  });
});

Deno.test("import of an unknown name, or of a remote name without a hint, fails ENOENT", async () => {
  await withQuietCluster(async (c) => {
    await exporter(c, ["beta"]);
    const s0 = served(c);
    const r = await new Script(c, 1, "client", [
      { op: "import", name: "nosuch", hint: 0 }, // 0
      { op: "import", name: "beta" }, // 1: not local, not cached, no hint
      { op: "import", name: "beta", hint: 1 }, // 2: the hint is this node
      { op: "import", name: "beta", hint: 0 }, // 3
      { op: "import", name: "nosuch" }, // 4
    ]).finished();
    assert.deepEqual([r[0].error, r[1].error, r[2].error, r[4].error], [
      "ENOENT",
      "ENOENT",
      "ENOENT",
      "ENOENT",
    ]);
    assert.equal(r[3].size, 4096, "the name exists: the hint finds it");
    assert.equal(served(c) - s0, 2, "only the two hinted lookups read node 0");
    // On its own node a name needs no hint and no remote READ.
    const s1 = served(c);
    const local = await new Script(c, 0, "local", [{ op: "import", name: "beta" }]).finished();
    assert.equal(local[0].size, 4096, JSON.stringify(local[0]));
    assert.equal(served(c), s1);
  });
});

Deno.test("export of a name already exported on the node fails EEXIST", async () => {
  await withQuietCluster(async (c) => {
    await exporter(c, ["gamma"]);
    const r = await new Script(c, 0, "second", [
      { op: "segment", as: "x", size: 4096 },
      { op: "export", seg: "x", name: "gamma" }, // another process, same name
      { op: "export", seg: "x", name: "delta" },
      { op: "segment", as: "y", size: 4096 },
      { op: "export", seg: "y", name: "delta" }, // the same process, same name
    ]).finished();
    assert.deepEqual([r[1].error, r[1].at], ["EEXIST", "issue"]);
    assert.equal(r[2].error, undefined, JSON.stringify(r[2]));
    assert.deepEqual([r[4].error, r[4].at], ["EEXIST", "issue"]);
    // The same name on another node is a different name.
    const other = await new Script(c, 1, "other", [
      { op: "segment", as: "z", size: 4096 },
      { op: "export", seg: "z", name: "gamma" },
    ]).finished();
    assert.equal(other[1].error, undefined, JSON.stringify(other[1]));
  });
});

Deno.test("export/import of a name longer than 32 bytes fails EINVAL; 32 bytes works", async () => {
  await withQuietCluster(async (c) => {
    const n32 = "n".repeat(32), n33 = "n".repeat(33);
    const multibyte = "é".repeat(17); // 34 bytes in 17 characters
    const owner = new Script(c, 0, "owner", [
      { op: "segment", as: "s", size: 4096 }, // 0
      { op: "export", seg: "s", name: n33 }, // 1
      { op: "export", seg: "s", name: multibyte }, // 2
      { op: "export", seg: "s", name: "" }, // 3
      { op: "export", seg: "s", name: n32 }, // 4
      { op: "serve" }, // 5
    ]);
    await owner.step(5);
    const o = owner.steps();
    assert.deepEqual(
      [o[1].error, o[2].error, o[3].error, o[4].error],
      ["EINVAL", "EINVAL", "EINVAL", undefined],
    );
    const r = await new Script(c, 1, "client", [
      { op: "import", name: n33, hint: 0 },
      { op: "import", name: multibyte, hint: 0 },
      { op: "import", name: n32, hint: 0 },
    ]).finished();
    assert.deepEqual([r[0].error, r[1].error], ["EINVAL", "EINVAL"]);
    assert.equal(r[2].size, 4096, JSON.stringify(r[2]));
  });
});
