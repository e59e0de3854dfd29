/**
 * The seed's Tornado handler, in Node: `GET /` answers `Test 10<br/>`, computed by
 * `blockingTask(10)` in a pool of 10 threads through the callback style (`run_background`).
 *
 *   node --import tsx examples/callback-server.ts      # then: curl http://127.0.0.1:8888/
 */
import { createServer } from 'node:http';
import { createPool } from 'offload';
import type * as Tasks from './tasks.js';

const pool = createPool<typeof Tasks>(new URL('./tasks.ts', import.meta.url), { size: 10 });

const server = createServer((request, response) => {
  if (request.url !== '/') {
    response.writeHead(404).end();
    return;
  }
  pool.submit('blockingTask', [10], (error, result) => {
    if (error) {
      response.writeHead(500).end('task failed');
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html' }).end(`Test ${result}<br/>`);
  });
});

const port = Number(process.env.PORT ?? 8888);
server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/`));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => server.close(() => void pool.close()));
}
