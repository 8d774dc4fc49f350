// The test suite's OpenAI-compatible engine fixture, which first writes the port it was given
// to ./port (the replica's working directory), so a benchmark can also call it directly.
import { writeFileSync } from 'node:fs';

const at = process.argv.indexOf('--port');
writeFileSync('port', process.argv[at + 1]);
await import('../../examples/tiny-engine/server.js');
