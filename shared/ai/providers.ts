import { FaztError } from '../errors.js';
import { getMeta, setMeta, type Cartridge } from '../cartridge/index.js';
import type { SecretStore } from '../storage/index.js';

/**
 * The node's model providers (`ai_providers`): name, kind, base URL, default model and the API key
 * sealed with the node's secrets key (`SecretStore.seal`, AES-256-GCM, purpose `ai provider NAME`).
 * A key goes in and never comes out through this module's public face except to the kernel's own
 * model calls ({@link ProviderStore.resolve}); listings say only whether one is set.
 */

/** Kinds of provider (each speaks its own wire protocol through its AI SDK provider package). */
export const PROVIDER_KINDS = ['openai', 'openai-compatible', 'anthropic', 'google', 'ollama'] as const;
/** A provider kind: `openai` and `openai-compatible` speak chat-completions; `anthropic` the Messages API; `google` Gemini's generateContent; `ollama` its `/api/chat` NDJSON. */
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** Provider names: a lower-case letter, then up to 31 lower-case letters, digits, `-` or `_` (they prefix models: `name/model`). */
export const PROVIDER_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

/** A provider as every listing shows it: never its key. */
export interface ProviderInfo {
  name: string;
  kind: ProviderKind;
  /** The API base URL; `null`: the kind's public default. */
  baseUrl: string | null;
  /** True when a key is stored (the key itself is never shown again). */
  hasKey: boolean;
  /** The model used when a call names this provider without a model, or none. */
  defaultModel: string | null;
  /** True for the node's default provider (calls that name no model use it). */
  isDefault: boolean;
  /** ms since epoch. */
  createdAt: number;
  /** ms since epoch. */
  updatedAt: number;
}

/** What {@link ProviderStore.set} takes. Absent fields keep their stored value (an update); `key: null` removes the key. */
export interface ProviderInput {
  name: string;
  kind?: ProviderKind;
  baseUrl?: string | null;
  key?: string | null;
  defaultModel?: string | null;
}

/** A provider with its key opened, for the kernel's model calls only. */
export interface ResolvedProvider {
  name: string;
  kind: ProviderKind;
  baseUrl: string | null;
  key: string | undefined;
  defaultModel: string | null;
}

/** `cartridge_meta` key of the node's default provider name. */
export const DEFAULT_PROVIDER_META = 'ai.default_provider';
/** Longest API key accepted, characters. */
export const MAX_KEY_CHARS = 4096;

interface Row {
  name: string;
  kind: string;
  base_url: string | null;
  key_sealed: Uint8Array | null;
  default_model: string | null;
  created_at: number;
  updated_at: number;
}

const utf8 = new TextEncoder();
const purpose = (name: string) => `ai provider ${name}`;

/** @throws FaztError `INVALID_ARGUMENT` unless `name` matches {@link PROVIDER_NAME_PATTERN}. */
export function checkProviderName(name: unknown): string {
  if (typeof name !== 'string' || !PROVIDER_NAME_PATTERN.test(name)) {
    throw new FaztError('INVALID_ARGUMENT', `"${String(name).slice(0, 60)}" is not a provider name: use a lower-case letter, then up to 31 lower-case letters, digits, "-" or "_" (like "openai" or "local-llm").`);
  }
  return name;
}

/** @throws FaztError `INVALID_ARGUMENT` unless `kind` is one of {@link PROVIDER_KINDS}. */
export function checkProviderKind(kind: unknown): ProviderKind {
  if (!(PROVIDER_KINDS as readonly unknown[]).includes(kind)) {
    throw new FaztError('INVALID_ARGUMENT', `"${String(kind).slice(0, 40)}" is not a provider kind; use one of ${PROVIDER_KINDS.join(', ')}.`);
  }
  return kind as ProviderKind;
}

/** @throws FaztError `INVALID_ARGUMENT` unless `url` is an absolute http(s) URL without credentials. @returns it without a trailing `/`. */
export function checkBaseUrl(url: unknown): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw new FaztError('INVALID_ARGUMENT', `The base URL "${String(url).slice(0, 100)}" is not an absolute URL (like http://127.0.0.1:8080/v1).`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new FaztError('INVALID_ARGUMENT', `The base URL must be http or https, not ${u.protocol}`);
  if (u.username || u.password) throw new FaztError('INVALID_ARGUMENT', 'The base URL must not carry credentials; give the key with --key instead.');
  return u.href.replace(/\/+$/, '');
}

/** @throws FaztError `INVALID_ARGUMENT` for a model id that is empty, too long or has control characters. */
export function checkModelId(model: unknown, what = 'model'): string {
  if (typeof model !== 'string' || !model.trim() || model.length > 200 || /[\0-\x1f\x7f\s]/.test(model)) {
    throw new FaztError('INVALID_ARGUMENT', `The ${what} "${String(model).slice(0, 60)}" is not a model id (1–200 characters, no spaces).`);
  }
  return model;
}

/** The node's providers, stored in the cartridge. */
export class ProviderStore {
  constructor(
    private readonly cart: Cartridge,
    private readonly secrets: SecretStore,
  ) {}

  private get db() {
    return this.cart.db;
  }

  private row(name: string): Row | undefined {
    return this.db.get<Row>('SELECT * FROM ai_providers WHERE name = ?', [name]);
  }

  /** The default provider's name: the one set, else the only one (or first by name) with a default model. */
  defaultName(): string | undefined {
    const set = getMeta(this.db, DEFAULT_PROVIDER_META);
    if (set && this.row(set)) return set;
    return this.db.get<{ name: string }>('SELECT name FROM ai_providers ORDER BY default_model IS NULL, name LIMIT 1')?.name;
  }

  private info(r: Row, def: string | undefined): ProviderInfo {
    return {
      name: r.name,
      kind: r.kind as ProviderKind,
      baseUrl: r.base_url,
      hasKey: !!r.key_sealed && r.key_sealed.length > 0,
      defaultModel: r.default_model,
      isDefault: r.name === def,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  /** Every provider by name, without keys. */
  list(): ProviderInfo[] {
    const def = this.defaultName();
    return this.db.query<Row>('SELECT * FROM ai_providers ORDER BY name').map((r) => this.info(r, def));
  }

  /** One provider without its key, or `undefined`. */
  get(name: string): ProviderInfo | undefined {
    const r = this.row(name);
    return r ? this.info(r, this.defaultName()) : undefined;
  }

  /**
   * Creates or updates a provider. A new one needs `kind`; `openai-compatible` needs `baseUrl`.
   * @param makeDefault also make it the node's default provider.
   * @returns the provider as listings show it.
   * @throws FaztError `INVALID_ARGUMENT` for a bad name, kind, URL, model or key (nothing stored).
   */
  set(input: ProviderInput, makeDefault = false): ProviderInfo {
    const name = checkProviderName(input.name);
    const old = this.row(name);
    const kind = input.kind !== undefined ? checkProviderKind(input.kind) : (old?.kind as ProviderKind | undefined);
    if (!kind) throw new FaztError('INVALID_ARGUMENT', `The provider "${name}" is new: give its kind (${PROVIDER_KINDS.join(', ')}).`);
    const baseUrl = input.baseUrl === undefined ? (old?.base_url ?? null) : input.baseUrl === null || input.baseUrl === '' ? null : checkBaseUrl(input.baseUrl);
    if (kind === 'openai-compatible' && !baseUrl) throw new FaztError('INVALID_ARGUMENT', 'An openai-compatible provider needs its base URL (like http://127.0.0.1:8080/v1 for llama.cpp).');
    const defaultModel = input.defaultModel === undefined ? (old?.default_model ?? null) : input.defaultModel === null || input.defaultModel === '' ? null : checkModelId(input.defaultModel, 'default model');
    let sealed: Uint8Array | null = old?.key_sealed ?? null;
    if (input.key !== undefined) {
      if (input.key === null || input.key === '') sealed = null;
      else {
        if (typeof input.key !== 'string' || input.key.length > MAX_KEY_CHARS || /[\0-\x1f\x7f]/.test(input.key.trim())) {
          throw new FaztError('INVALID_ARGUMENT', `The API key must be text of at most ${MAX_KEY_CHARS} characters without control characters.`);
        }
        sealed = this.secrets.seal(purpose(name), utf8.encode(input.key.trim()));
      }
    }
    const now = this.cart.clock.now();
    this.db.transaction(() => {
      this.db.run(
        `INSERT INTO ai_providers (name, kind, base_url, key_sealed, default_model, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, base_url = excluded.base_url, key_sealed = excluded.key_sealed,
           default_model = excluded.default_model, updated_at = excluded.updated_at`,
        [name, kind, baseUrl, sealed, defaultModel, old?.created_at ?? now, now],
      );
      if (makeDefault) setMeta(this.db, DEFAULT_PROVIDER_META, name);
    });
    return this.get(name)!;
  }

  /**
   * Makes `name` the node's default provider.
   * @throws FaztError `NOT_FOUND` when there is no such provider.
   */
  setDefault(name: string): ProviderInfo {
    if (!this.row(checkProviderName(name))) throw new FaztError('NOT_FOUND', `No AI provider named "${name}". Run \`fazt ai provider list\` to see them.`);
    setMeta(this.db, DEFAULT_PROVIDER_META, name);
    return this.get(name)!;
  }

  /** Removes a provider and its sealed key. @returns true when it existed. */
  remove(name: string): boolean {
    checkProviderName(name);
    return this.db.transaction(() => {
      const gone = this.db.run('DELETE FROM ai_providers WHERE name = ?', [name]).changes > 0;
      if (gone && getMeta(this.db, DEFAULT_PROVIDER_META) === name) setMeta(this.db, DEFAULT_PROVIDER_META, null);
      return gone;
    });
  }

  /**
   * A provider with its key opened, for a model call.
   * @throws FaztError `INTERNAL` when the key cannot be decrypted (the cartridge moved without its FAZT_SECRET_KEY).
   */
  resolve(name: string): ResolvedProvider | undefined {
    const r = this.row(name);
    if (!r) return undefined;
    const key = r.key_sealed && r.key_sealed.length ? new TextDecoder().decode(this.secrets.open(purpose(name), new Uint8Array(r.key_sealed))) : undefined;
    return { name: r.name, kind: r.kind as ProviderKind, baseUrl: r.base_url, key, defaultModel: r.default_model };
  }
}
