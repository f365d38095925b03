// The OpenAPI document as YAML, from an app that is built and never started. It depends on no
// setting (the operator's ceilings are refinements the document does not show), so any
// configuration gives the same text.
import type { Config } from '../config.js';
import { buildApp } from './app.js';
import { openapiYaml } from './openapi.js';

export async function generatedOpenapi(config: Config): Promise<string> {
  const app = await buildApp({ config, logger: false });
  try {
    await app.ready();
    return openapiYaml(app);
  } finally {
    await app.close();
  }
}
