// A minimal Gantry worker: an HTTP server on $PORT with a health check, in plain Node.js.
// Deploy it on the process runtime with the README's quick start.
import { createServer } from 'node:http';

const name = process.env.TOGETHER_DEPLOYMENT_NAME ?? 'hello-worker';
const revision = process.env.TOGETHER_DEPLOYMENT_REVISION_ID ?? 'unknown';
let shuttingDown = false;

const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(shuttingDown ? 503 : 200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ status: shuttingDown ? 'unhealthy' : 'healthy' }));
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ message: `hello from ${name}`, revision, greeting: process.env.GREETING ?? 'hi' }));
});

server.listen(Number(process.env.PORT ?? 8000), () => console.log(`${name} (${revision}) listening on ${process.env.PORT}`));

// Finish in-flight requests, then exit, within TERMINATION_GRACE_PERIOD_SECONDS.
process.on('SIGTERM', () => {
  shuttingDown = true;
  console.log('SIGTERM: draining');
  server.close(() => process.exit(0));
});
