// The baseline of every ratio: a bare Fastify route that returns exactly the bytes Coffer returned
// for the same request, in a process of its own (as Coffer runs in its own process).
// Usage: node baseline-server.js <body file> <url path>
import fs from 'node:fs';
import Fastify from 'fastify';

const [bodyFile, urlPath] = process.argv.slice(2) as [string, string];
const body = fs.readFileSync(bodyFile);
const app = Fastify();
app.get(urlPath.split('?')[0]!, async (_request, reply) => reply.type('application/json').send(body));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`BENCH ${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
