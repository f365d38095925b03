// Files shipped beside the code (openapi.yaml) are found from the package root, which is the same
// relative place whether the code runs from dist/ in a checkout or in a Docker image.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the package root (no package.json above the code)');
    dir = up;
  }
  return dir;
}

export const openapiPath = () => join(packageRoot(), 'openapi.yaml');
