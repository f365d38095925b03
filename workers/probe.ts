// Run in a short-lived child process when a worker starts: initialises the configured TensorFlow.js
// backend once, reports {backend, device} to the parent and exits. The worker thus fails fast when
// the backend it was told to use is missing, and /readyz can show the backend before any job runs,
// while the worker's own process never loads TensorFlow.js (or claims a GPU).
import { loadConfig } from '../src/config.js';
import { initBackend } from '../src/engine/backend.js';

try {
  const info = await initBackend(loadConfig().backend);
  process.send!({ ok: true, ...info }, () => process.exit(0));
} catch (err) {
  process.send!({ ok: false, error: (err as Error).message }, () => process.exit(1));
}
