// The floor for any Node.js proxy on this machine: node:http in, undici's dispatcher out, nothing
// else (no routing, auth, metrics, balancing). bench/gateway.ts runs it beside Gantry's gateway.
//   node bench/lib/minimal-proxy.mjs LISTEN_PORT UPSTREAM_HOST:PORT[,UPSTREAM_HOST:PORT…]   (round robin)
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [listen, upstreams] = process.argv.slice(2);
const pools = upstreams.split(',').map((u) => new Pool(`http://${u}`, { connections: 256 }));
let turn = 0;
const hop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);
createServer((req, res) => {
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!hop.has(k)) headers[k] = v;
  pools[turn++ % pools.length].dispatch(
    { method: req.method, path: req.url, headers, body: null },
    {
      onRequestStart() {},
      onResponseStart(_c, status, h) {
        res.statusCode = status;
        for (const [k, v] of Object.entries(h)) if (!hop.has(k)) res.setHeader(k, v);
      },
      onResponseData(_c, chunk) {
        res.write(chunk);
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError(_c, err) {
        res.destroy(err);
      },
    },
  );
}).listen(Number(listen), '127.0.0.1', () => console.log('minimal proxy ready'));
