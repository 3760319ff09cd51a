const code = "try { Deno.kill(19059, 'SIGKILL'); postMessage('killed other pid 19059'); } catch (e) { postMessage('denied: ' + e.name); }";
const w = new Worker("data:application/javascript," + encodeURIComponent(code), { type: "module", deno: { permissions: "none" } } as any);
w.onmessage = (e) => { console.log("worker:", e.data); w.terminate(); };
try { Deno.kill(19059, "SIGCONT"); console.log("main thread without --allow-run: allowed"); } catch (e) { console.log("main thread:", (e as Error).name); }
