/**
 * kv: the key-value server's client (servers/kv/, protocol in servers/kv/protocol.ts).
 *
 *   kv [--node N] [--service NAME] [--timeout MS] get KEY
 *   kv [options] put KEY VALUE...      (the words after KEY, joined by spaces)
 *   kv [options] del KEY
 *   kv [options] list
 *   kv [options] stats
 *
 * `--node N` says where to look for the server if its name is not known on this
 * node. Start a server first, from the shell: `run servers/kv/mod.ts &` (this node)
 * or `on N servers/kv/mod.ts` (node N). Exit statuses: 0 done, 1 no such key,
 * 2 bad usage, 3 no server (none exports the name, or it did not answer in time),
 * 4 the server refused the request.
 */

import {
  decodeListPage,
  decodeText,
  encodePut,
  encodeText,
  KV_MAX_KEY,
  KV_SERVICE,
  KvStub,
} from "../../servers/kv/protocol.ts";
import { print, println, RpcClient, SysError } from "../lib/mod.ts";

const USAGE = "usage: kv [--node N] [--service NAME] [--timeout MS] " +
  "get KEY | put KEY VALUE... | del KEY | list | stats";

const EXIT = { OK: 0, NO_KEY: 1, USAGE: 2, NO_SERVER: 3, REFUSED: 4 } as const;

function fail(status: number, text: string): number {
  print(`kv: ${text}\n`, 2);
  return status;
}

class Usage extends Error {}

interface Command {
  node?: number;
  service: string;
  timeoutMs: number;
  op: string;
  words: string[];
}

function parse(argv: string[]): Command {
  const cmd: Command = { service: KV_SERVICE, timeoutMs: 2000, op: "", words: [] };
  let i = 0;
  const number = (flag: string): number => {
    const text = argv[++i];
    if (text === undefined || !/^\d+$/.test(text)) throw new Usage(`${flag} needs a number`);
    return Number(text);
  };
  for (; i < argv.length && argv[i].startsWith("--"); i++) {
    const flag = argv[i];
    if (flag === "--node") cmd.node = number(flag);
    else if (flag === "--timeout") cmd.timeoutMs = number(flag);
    else if (flag === "--service") {
      const name = argv[++i];
      if (!name) throw new Usage("--service needs a name");
      cmd.service = name;
    } else throw new Usage(`unknown option ${flag}`);
  }
  cmd.op = argv[i++] ?? "";
  cmd.words = argv.slice(i);
  const arity: Record<string, [number, number]> = {
    get: [1, 1],
    put: [2, Infinity],
    del: [1, 1],
    list: [0, 0],
    stats: [0, 0],
  };
  const want = arity[cmd.op];
  if (!want) throw new Usage(cmd.op ? `unknown command ${cmd.op}` : "which command?");
  if (cmd.words.length < want[0] || cmd.words.length > want[1]) {
    throw new Usage(`${cmd.op}: wrong number of arguments`);
  }
  if (cmd.words.length > 0) {
    const key = encodeText(cmd.words[0]);
    if (key.length > KV_MAX_KEY) {
      throw new Usage(`key of ${key.length} bytes (at most ${KV_MAX_KEY})`);
    }
  }
  return cmd;
}

function run(c: RpcClient, cmd: Command): number {
  const key = cmd.words[0];
  switch (cmd.op) {
    case "get": {
      const r = c.call(KvStub.GET, encodeText(key));
      if (r[0] !== 1) return fail(EXIT.NO_KEY, `no key "${key}"`);
      println(decodeText(r.subarray(1)));
      return EXIT.OK;
    }
    case "put": {
      const r = c.call(KvStub.PUT, encodePut(key, cmd.words.slice(1).join(" ")));
      println(r[0] === 1 ? `replaced "${key}"` : `stored "${key}"`);
      return EXIT.OK;
    }
    case "del": {
      const r = c.call(KvStub.DEL, encodeText(key));
      if (r[0] !== 1) return fail(EXIT.NO_KEY, `no key "${key}"`);
      println(`deleted "${key}"`);
      return EXIT.OK;
    }
    case "list": {
      const keys: string[] = [];
      for (let after = "";;) {
        const page = decodeListPage(c.call(KvStub.LIST, encodeText(after)));
        keys.push(...page.keys);
        if (!page.more || page.keys.length === 0) break;
        after = page.keys[page.keys.length - 1];
      }
      for (const k of keys) println(k);
      println(`(${keys.length} ${keys.length === 1 ? "key" : "keys"})`);
      return EXIT.OK;
    }
    default: {
      println(decodeText(c.call(KvStub.STATS)));
      return EXIT.OK;
    }
  }
}

export default function main(argv: string[]): number {
  let cmd: Command;
  try {
    cmd = parse(argv);
  } catch (e) {
    if (e instanceof Usage) return fail(EXIT.USAGE, `${e.message}\n${USAGE}`);
    if (e instanceof RangeError) return fail(EXIT.USAGE, `${e.message}\n${USAGE}`);
    throw e;
  }
  const where = cmd.node === undefined ? "known on this node" : `on node ${cmd.node}`;
  let c: RpcClient;
  try {
    c = RpcClient.connect(cmd.service, { hint: cmd.node, timeoutMs: cmd.timeoutMs });
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    if (e.code === "ENOENT") {
      const hint = cmd.node === undefined ? "; --node N looks on node N" : "";
      return fail(EXIT.NO_SERVER, `no server "${cmd.service}" ${where} (ENOENT)${hint}`);
    }
    if (e.code === "ETIMEDOUT") {
      return fail(
        EXIT.NO_SERVER,
        `server "${cmd.service}" did not answer in ${cmd.timeoutMs} ms (ETIMEDOUT)`,
      );
    }
    return fail(EXIT.NO_SERVER, `cannot reach "${cmd.service}" ${where}: ${e.message}`);
  }
  try {
    return run(c, cmd);
  } catch (e) {
    if (e instanceof RangeError) return fail(EXIT.USAGE, e.message);
    if (!(e instanceof SysError)) throw e;
    if (e.code === "ETIMEDOUT") {
      return fail(EXIT.NO_SERVER, `server "${cmd.service}" stopped answering (ETIMEDOUT)`);
    }
    return fail(EXIT.REFUSED, `${cmd.op} refused: ${e.message}`);
  } finally {
    c.close();
  }
}
