import { DockerDriver } from '../src/runtime/docker/docker-driver.js';
const img = process.argv[2]!;
const d = await DockerDriver.open({ host: 'unix:///tmp/p.sock', dir: '/tmp/dbgdir', owner: 'dbg', probeIntervalMs: 50, baseBackoffMs: 100, maxBackoffMs: 400 });
const spec = (rev: string, env: Record<string,string>) => ({ deploymentId: 'dep_1', deploymentName: 'echo', revisionId: rev, image: img, command: ['/usr/local/bin/node'], args: ['/app/worker.js'], env, cpu: 0.5, memoryGiB: 0.25, gpuType: 'none', gpuCount: 0, port: 8000, healthCheckPath: '/health', volumes: [], terminationGracePeriodSeconds: 2 });
await d.apply('dep_1', [{ revisionId: 'rev-log', revision: spec('rev-log', {}), replicas: 1 }]);
await new Promise(r => setTimeout(r, 1000));
await d.apply('dep_1', [{ revisionId: 'rev-log', replicas: 1 }, { revisionId: 'rev-crash', revision: spec('rev-crash', {CRASH_AFTER_MS: '50'}), replicas: 1 }]);
for (let i = 0; i < 20; i++) { await new Promise(r => setTimeout(r, 100)); if (d.observe('dep_1').some(x => x.reason === 'CrashLoopBackOff')) break; }
console.log(JSON.stringify(d.observe('dep_1')).slice(0, 500));
console.time('delete'); await d.apply('dep_1', []); console.timeEnd('delete');
console.time('close'); await d.close(); console.timeEnd('close');
