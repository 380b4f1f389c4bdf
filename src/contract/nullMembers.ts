/**
 * Contract §1, null members: an optional member sent as `null` means "not given", on create
 * and on update. .NET's serializer writes every unset member as `null` (the hosted API's C#
 * sample activates a webhook with `{"active":true,"callbackUrl":null,"secret":null,"eventTypes":null}`).
 *
 * Before a body is validated, every member its schema declares whose value is `null` (and
 * whose own schema does not allow `null`) is removed, in declared objects and arrays at any
 * depth. A required member sent as `null` is then missing: 422 MissingRequiredProperty. A
 * member the schema does not declare is left alone, for the schema to refuse as unknown.
 */

type Remover = (value: unknown) => void;
type Schema = Record<string, unknown>;

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

function allowsNull(schema: unknown): boolean {
  if (!isObject(schema)) return schema === true;
  const { type, anyOf, oneOf } = schema;
  if (type === 'null' || (Array.isArray(type) && type.includes('null'))) return true;
  if (schema.const === null || (Array.isArray(schema.enum) && schema.enum.includes(null))) return true;
  return [anyOf, oneOf].some((list) => Array.isArray(list) && list.some(allowsNull));
}

function removerOf(schema: unknown): Remover | undefined {
  if (!isObject(schema)) return undefined;
  const branches = [schema.anyOf, schema.oneOf, schema.allOf]
    .flatMap((list) => (Array.isArray(list) ? list : []))
    .map(removerOf)
    .filter((r): r is Remover => r !== undefined);
  const members = isObject(schema.properties)
    ? Object.entries(schema.properties).map(([key, sub]) => ({ key, nullable: allowsNull(sub), inner: removerOf(sub) }))
    : [];
  const items = isObject(schema.items) ? removerOf(schema.items) : undefined;
  if (branches.length === 0 && members.length === 0 && items === undefined) return undefined;
  return (value) => {
    if (isObject(value)) {
      for (const { key, nullable, inner } of members) {
        if (!Object.hasOwn(value, key)) continue;
        if (value[key] === null && !nullable) delete value[key];
        else inner?.(value[key]);
      }
    } else if (Array.isArray(value) && items !== undefined) {
      for (const item of value) items(item);
    }
    for (const branch of branches) branch(value);
  };
}

/**
 * Wraps a body validator so that it first removes the null members `schema` declares (in
 * place: the route then sees the body without them). The validator's `errors` stay readable.
 */
export function dropNullMembersFirst<F extends ((data: unknown) => boolean | Promise<unknown>) & { errors?: unknown }>(schema: object, validate: F): F {
  const remove = removerOf(schema);
  if (remove === undefined) return validate;
  const wrapped = Object.assign((data: unknown) => {
    remove(data);
    const result = validate(data);
    wrapped.errors = validate.errors;
    return result;
  }, validate);
  return wrapped as F;
}
