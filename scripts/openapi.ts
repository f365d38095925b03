// Writes openapi.yaml: the document the API generates from its routes. Run `npm run openapi` after
// changing a route; the OpenAPI test fails while the committed file differs. Building the app
// connects to REDIS_URL (nothing is written there).
import { writeFile } from 'node:fs/promises';
import { loadConfig } from '../src/config.js';
import { generatedOpenapi } from '../src/api/openapi-document.js';
import { openapiPath } from '../src/api/paths.js';

await writeFile(openapiPath(), await generatedOpenapi(loadConfig()));
console.log(`wrote ${openapiPath()}`);
