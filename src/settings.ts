// Settings read from environment variables, each declared once: its variable name, the key it has
// once parsed, its zod schema (coercion, bounds, default), the README table it is listed in and
// what that table says about it. Parsing, the inverse (handing settings to a child process), the
// parsed type and the README tables all come from that one declaration. Plain zod, no service
// dependencies, so src/engine may declare its own settings with it (src/engine/settings.ts).
import { z } from 'zod';

/** The README tables settings are listed in (scripts/config-docs.ts renders them). */
export type DocTable = 'service' | 'access' | 'webhooks' | 'limits' | 'gpu';

export interface Setting<K extends string = string, S extends z.ZodTypeAny = z.ZodTypeAny> {
  key: K;
  schema: S;
  table: DocTable;
  doc: string;
  /** The variable's text for a parsed value, where String(value) would not parse back to it. */
  // Method syntax: its parameter is checked bivariantly, so a Setting<K, S> is a Setting.
  toEnv?(value: z.output<S>): string;
}

export function setting<K extends string, S extends z.ZodTypeAny>(
  key: K,
  schema: S,
  table: DocTable,
  doc: string,
  toEnv?: (value: z.output<S>) => string,
): Setting<K, S> {
  return { key, schema, table, doc, toEnv };
}

export type Declaration = Readonly<Record<string, Setting>>;

/** The parsed settings of a declaration, keyed by each setting's key. */
export type Values<D extends Declaration> = { -readonly [N in keyof D as D[N]['key']]: z.output<D[N]['schema']> };

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parse the declared variables of `env`; a bad value throws a ConfigError naming its variable. */
export function parseSettings<D extends Declaration>(declaration: D, env: NodeJS.ProcessEnv): Values<D> {
  const shape = Object.fromEntries(Object.entries(declaration).map(([name, s]) => [name, s.schema]));
  // Empty variables count as unset, as docker compose and shells often pass VAR= through.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = z.object(shape).safeParse(present);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${why}`);
  }
  const values = parsed.data as Record<string, unknown>;
  return Object.fromEntries(Object.entries(declaration).map(([name, s]) => [s.key, values[name]])) as Values<D>;
}

/** The environment that makes parseSettings return `values` (for child processes). */
export function settingsToEnv<D extends Declaration>(declaration: D, values: Values<D>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, s] of Object.entries(declaration)) {
    const value = (values as Record<string, unknown>)[s.key];
    if (value !== undefined) env[name] = s.toEnv ? s.toEnv(value) : String(value);
  }
  return env;
}

/**
 * The variable's default as its text, read from the schema (the default sits under any transform,
 * so this is what the variable would be set to, e.g. DATA_DIR's "./data", not the resolved path);
 * undefined for an optional setting without one.
 */
export function defaultText(schema: z.ZodTypeAny): string | undefined {
  if (schema instanceof z.ZodEffects) return defaultText(schema.innerType());
  if (schema instanceof z.ZodDefault) return String(schema._def.defaultValue());
  if (schema instanceof z.ZodOptional) return undefined;
  throw new Error('a setting needs a default or .optional()');
}
