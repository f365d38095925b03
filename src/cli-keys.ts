// `lopper keys create|list|revoke`: tenants' API keys, straight in Redis (REDIS_URL, LOPPER_PREFIX),
// for the operator who bootstraps a service before any admin key exists.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from './config.js';
import { InputError } from './errors.js';
import { createRedis, isRedisUnavailable } from './queue/connection.js';
import { ApiKeyStore, SCOPES, tenantSchema, type ApiKeyRecord } from './store/api-keys.js';
import { redisKeys } from './store/keys.js';

export const KEYS_USAGE = `  lopper keys create --tenant <T> [--scope read|write|admin]... [--name <text>] [--json]
  lopper keys list [--tenant <T>] [--json]
  lopper keys revoke <key id>`;

const scopesSchema = z.array(z.enum(SCOPES)).min(1);

function row(k: ApiKeyRecord): string {
  return `${k.id}  ${k.tenant}  ${k.scopes.join(',')}  ${k.createdAt}${k.name ? `  ${k.name}` : ''}`;
}

export async function keysCommand(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { tenant: { type: 'string' }, scope: { type: 'string', multiple: true }, name: { type: 'string' }, json: { type: 'boolean' } },
  });
  const [sub, ...rest] = positionals;
  const tenant = values.tenant === undefined ? undefined : tenantSchema.safeParse(values.tenant);
  if (tenant && !tenant.success) throw new InputError('--tenant', `--tenant: ${tenant.error.issues[0].message}`);
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke')
    throw new InputError('command', `unknown keys command "${sub ?? ''}" (create, list, revoke)`);
  if (sub === 'revoke' ? rest.length !== 1 : rest.length !== 0)
    throw new InputError('arguments', sub === 'revoke' ? 'give exactly one key id' : `unexpected arguments: ${rest.join(' ')}`);

  const config = loadConfig();
  const redis = createRedis(config.redisUrl, 'api');
  redis.on('error', () => undefined); // the command's own await reports it
  const store = new ApiKeyStore(redis, redisKeys(config.prefix));
  try {
    if (sub === 'create') {
      if (!tenant) throw new InputError('--tenant', '--tenant is required');
      // --scope read --scope write, or --scope read,write; default read + write.
      const scopes = scopesSchema.safeParse((values.scope ?? ['read,write']).flatMap((s) => s.split(',')).map((s) => s.trim()));
      if (!scopes.success) throw new InputError('--scope', `--scope: each must be one of ${SCOPES.join(', ')}`);
      const k = await store.create(tenant.data, scopes.data, values.name ?? null);
      const shown = { id: k.id, key: k.key, tenant: k.tenant, scopes: k.scopes };
      out.write(values.json ? `${JSON.stringify(shown)}\n` : `${row(k)}\nkey (shown only now): ${k.key}\n`);
    } else if (sub === 'list') {
      const keys = await store.list(tenant?.data);
      out.write(values.json ? `${JSON.stringify(keys)}\n` : keys.map((k) => `${row(k)}\n`).join(''));
    } else {
      if (!(await store.revoke(rest[0]))) throw new InputError('id', `no key "${rest[0]}"`);
      out.write(`revoked ${rest[0]}\n`);
    }
    return 0;
  } catch (err) {
    if (!isRedisUnavailable(err)) throw err;
    process.stderr.write(`lopper: cannot reach Redis at ${config.redisUrl} (REDIS_URL): ${(err as Error).message}\n`);
    return 1;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
