// Runs flushTree's walk off the main thread (src/durable-files.ts).
import { workerData } from 'node:worker_threads';
import { flushTreeHere } from './durable-files.js';

flushTreeHere(workerData as string);
