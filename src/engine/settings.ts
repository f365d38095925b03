// The engine's environment variables, declared like the service's (src/settings.ts) and listed in
// its configuration too, but parsed here: the CLI, the benches and the inspector children start
// backends without the service's configuration, and a bad value must fail there as well instead of
// silently falling back.
import { z } from 'zod';
import { BACKENDS } from '../request.js';
import { parseSettings, setting, type Values } from '../settings.js';

export const ENGINE_SETTINGS = {
  LOPPER_BACKEND: setting(
    'backend',
    z.enum(BACKENDS).default('auto'),
    'service',
    'Compute backend: `auto` (webgpu → tensorflow → wasm), `webgpu`, `tensorflow`, `wasm`, `cpu`. A worker fails fast at start when the named one is unavailable',
  ),
  // Measured in backend.ts (the comments there) and docs/performance.md.
  LOPPER_WEBGPU_SUBMIT_BATCH: setting(
    'webgpuSubmitBatch',
    z.coerce.number().int().positive().default(1000),
    'gpu',
    'webgpu dispatches per command-buffer submit (tfjs: 15; 1000 measured best)',
  ),
  LOPPER_WEBGPU_CPU_FORWARD: setting(
    'webgpuCpuForward',
    z
      .enum(['0', '1'])
      .default('0')
      .transform((v) => v === '1'),
    'gpu',
    "`1` turns tfjs-webgpu's CPU forwarding back on (ops on small host-side inputs run in JavaScript; off is faster, see docs/performance.md)",
    (on) => (on ? '1' : '0'),
  ),
  LOPPER_DAWN_OPTIONS: setting(
    'dawnOptions',
    z
      .string()
      .default('')
      .transform((text) => text.split(',').filter(Boolean)),
    'gpu',
    "comma-separated Dawn toggles passed to `webgpu`'s `create()`",
  ),
} as const;

export type EngineSettings = Values<typeof ENGINE_SETTINGS>;

export function loadEngineSettings(env: NodeJS.ProcessEnv = process.env): EngineSettings {
  return parseSettings(ENGINE_SETTINGS, env);
}
