/** OperatorService: registering custom search attributes (what `temporal operator search-attribute create` does). */
import { type ServerState } from './state';
import { invalidArgument, notFound, type UnaryHandler } from './proto';
import { INDEXED_VALUE_TYPE, PREDEFINED_SEARCH_ATTRIBUTES } from './namespace';
import { systemSearchAttributes, type SearchAttributeType } from './visibility-query';

const BY_ENUM = new Map<number, SearchAttributeType>(
  Object.entries(INDEXED_VALUE_TYPE).map(([k, v]) => [v, k as SearchAttributeType]),
);
const SYSTEM = new Set(PREDEFINED_SEARCH_ATTRIBUTES.map(([k]) => k));
/** System and predefined attributes: listed as `systemAttributes`; the rest are custom (as the dev server's Custom*Field). */
const SERVER_MAINTAINED = systemSearchAttributes();

export function operatorServiceHandlers(state: ServerState): Record<string, UnaryHandler> {
  const target = (name: string | undefined) => state.namespace(name || state.options.namespace);
  return {
    AddSearchAttributes: (req: any) => {
      const n = target(req.namespace);
      for (const [name, t] of Object.entries<number>(req.searchAttributes ?? {})) {
        const type = BY_ENUM.get(t);
        if (!type) throw invalidArgument(`Unknown search attribute type ${t} for ${name}.`);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw invalidArgument(`Invalid search attribute name ${name}.`);
        const existing = n.searchAttributes.get(name);
        if (existing && existing !== type) throw invalidArgument(`Search attribute ${name} already exists with type ${existing}.`);
        n.searchAttributes.set(name, type);
      }
      return {};
    },
    RemoveSearchAttributes: (req: any) => {
      const n = target(req.namespace);
      for (const name of req.searchAttributes ?? []) {
        if (SYSTEM.has(name)) throw invalidArgument(`Unable to remove predefined search attribute ${name}.`);
        if (!n.searchAttributes.delete(name)) throw notFound(`Search attribute ${name} doesn't exist.`);
      }
      return {};
    },
    ListSearchAttributes: (req: any) => {
      const n = target(req.namespace);
      const customAttributes: Record<string, number> = {};
      const systemAttributes: Record<string, number> = {};
      for (const [k, t] of SERVER_MAINTAINED) systemAttributes[k] = INDEXED_VALUE_TYPE[t];
      for (const [k, t] of n.searchAttributes) {
        if (!SERVER_MAINTAINED.has(k)) customAttributes[k] = INDEXED_VALUE_TYPE[t];
      }
      return { customAttributes, systemAttributes, storageSchema: {} };
    },
  };
}
