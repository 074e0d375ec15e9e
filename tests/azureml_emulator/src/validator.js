// A strict reader of request bodies against Microsoft's mappers (src/mappers.js).
//
// The SDK's own serializer drops keys it does not know and coerces loosely; the service does
// neither, so this walker refuses: a key no mapper names, a value of the wrong JSON type, a
// missing required property, a discriminator value with no subtype, a string breaking the
// mapper's pattern or length, a number outside its bounds, an enum value not allowed. It
// follows what the mappers encode: `modelProperties` (with the flattened `a.b` serialized
// names some resources use), `polymorphicDiscriminator` and `uberParent`, Dictionary,
// Sequence, Enum, Composite, TimeSpan, DateTime, Uuid and `any`. Read-only properties are
// accepted and ignored, as the resource manager does when a client sends back what it got.
'use strict';

const { loadMappers } = require('./mappers');

const DURATION = /^-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const joinPath = (base, key) => (base ? `${base}.${key}` : key);
const describe = (v) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`);

// Splits a serialized name on dots that are not escaped (`odata\.type` is one key).
function splitName(name) {
  return name.split(/(?<!\\)\./).map((part) => part.replace(/\\\./g, '.'));
}

class Validator {
  constructor() {
    const { mappers, discriminators } = loadMappers();
    this.mappers = mappers;
    this.discriminators = discriminators;
  }

  // Validates `body` as the composite class `className`; returns a list of
  // {target, message} (empty when the body conforms).
  validate(body, className) {
    const mapper = this.mappers[className];
    if (!mapper) throw new Error(`no mapper named '${className}'`);
    const errors = [];
    this.composite(body, mapper, '', errors);
    return errors;
  }

  // The concrete mapper for a polymorphic value: looked up as `Class.value` or
  // `UberParent.value`, else among every subtype whose discriminator and properties show it
  // derives from the base (the SDK files `uri_folder` under `AssetJobInput`, not `JobInput`).
  concrete(mapper, value) {
    const { className, uberParent, polymorphicDiscriminator: disc } = mapper.type;
    if (mapper.serializedName === value && uberParent && uberParent !== className) return mapper;
    const direct = this.discriminators[`${className}.${value}`];
    if (direct) return direct;
    // A concrete subtype named as such (CommandJobLimits) takes only its own tag.
    if (uberParent && uberParent !== className && mapper.serializedName !== className) return null;
    const baseKeys = Object.keys(mapper.type.modelProperties);
    for (const [key, candidate] of Object.entries(this.discriminators)) {
      if (!key.endsWith(`.${value}`) || candidate.serializedName !== value) continue;
      // The SDK leaves `polymorphicDiscriminator` off the asset inputs and outputs; their
      // properties (the base's, discriminator included) still show what they derive from.
      const cd = candidate.type.polymorphicDiscriminator;
      if (cd && cd.serializedName !== disc.serializedName) continue;
      const props = candidate.type.modelProperties;
      if (baseKeys.every((k) => k in props)) return candidate;
    }
    return null;
  }

  // Every discriminator value a base accepts, for the error message.
  subtypeNames(mapper) {
    const names = new Set();
    const disc = mapper.type.polymorphicDiscriminator;
    const baseKeys = Object.keys(mapper.type.modelProperties);
    for (const candidate of Object.values(this.discriminators)) {
      const cd = candidate.type.polymorphicDiscriminator;
      if ((cd && cd.serializedName !== disc.serializedName) || !candidate.serializedName) continue;
      if (baseKeys.every((k) => k in candidate.type.modelProperties)) names.add(candidate.serializedName);
    }
    return [...names].sort();
  }

  resolve(value, mapper, path, errors) {
    const disc = mapper.type.polymorphicDiscriminator;
    if (!disc) return mapper;
    const key = disc.serializedName;
    const tag = value[key];
    if (tag === undefined || tag === null) {
      errors.push({ target: joinPath(path, key), message: `the required discriminator '${key}' is missing` });
      return null;
    }
    if (typeof tag !== 'string') {
      errors.push({ target: joinPath(path, key), message: `'${key}' must be a string, not ${describe(tag)}` });
      return null;
    }
    const found = this.concrete(mapper, tag);
    if (!found) {
      const { className, uberParent } = mapper.type;
      const own = uberParent && uberParent !== className && mapper.serializedName !== className;
      const known = own ? [mapper.serializedName] : this.subtypeNames(mapper);
      errors.push({ target: joinPath(path, key),
                    message: `'${tag}' is not a valid ${key}; expected one of: ${known.join(', ')}` });
      return null;
    }
    return found;
  }

  composite(value, mapper, path, errors) {
    if (!isObject(value)) {
      errors.push({ target: path || '(body)', message: `expected an object, got ${describe(value)}` });
      return;
    }
    const concrete = this.resolve(value, mapper, path, errors);
    if (!concrete) return;
    this.shape(value, this.shapeOf(concrete), path, errors);
  }

  // Turns modelProperties into a tree keyed by serialized name segments, so that flattened
  // properties (`properties.friendlyName`) are checked inside their nested object.
  shapeOf(mapper) {
    if (mapper._strictShape) return mapper._strictShape;
    const tree = {};
    for (const prop of Object.values(mapper.type.modelProperties)) {
      const parts = splitName(prop.serializedName);
      let node = tree;
      for (const part of parts.slice(0, -1)) {
        node[part] = node[part] || { children: {} };
        node = node[part].children;
      }
      node[parts[parts.length - 1]] = { mapper: prop };
    }
    Object.defineProperty(mapper, '_strictShape', { value: tree, enumerable: false });
    return tree;
  }

  shape(value, tree, path, errors) {
    for (const key of Object.keys(value)) {
      if (!(key in tree)) {
        errors.push({ target: joinPath(path, key),
                      message: `'${key}' is not a known property here; known: ${Object.keys(tree).sort().join(', ')}` });
      }
    }
    for (const [key, node] of Object.entries(tree)) {
      const child = value[key];
      const where = joinPath(path, key);
      if (node.children) {
        if (child === undefined || child === null) {
          this.missing(node.children, where, errors);
        } else if (!isObject(child)) {
          errors.push({ target: where, message: `expected an object, got ${describe(child)}` });
        } else {
          this.shape(child, node.children, where, errors);
        }
        continue;
      }
      const prop = node.mapper;
      if (prop.readOnly) continue;
      if (child === undefined || child === null) {
        if (prop.required && !(child === null && prop.nullable)) {
          errors.push({ target: where, message: `the required property '${key}' is missing` });
        }
        continue;
      }
      this.value(child, prop, where, errors);
    }
  }

  // Required properties under a flattened object that is absent altogether.
  missing(tree, path, errors) {
    for (const [key, node] of Object.entries(tree)) {
      if (node.children) this.missing(node.children, joinPath(path, key), errors);
      else if (node.mapper.required && !node.mapper.readOnly) {
        errors.push({ target: joinPath(path, key), message: `the required property '${key}' is missing` });
      }
    }
  }

  value(v, prop, path, errors) {
    const type = prop.type;
    const bad = (what) => errors.push({ target: path, message: `expected ${what}, got ${describe(v)}` });
    switch (type.name) {
      case 'String':
        if (typeof v !== 'string') return bad('a string');
        return this.constraints(v, prop, path, errors);
      case 'Number':
        if (typeof v !== 'number' || !Number.isFinite(v)) return bad('a number');
        return this.constraints(v, prop, path, errors);
      case 'Boolean':
        if (typeof v !== 'boolean') return bad('a boolean');
        return undefined;
      case 'DateTime':
        if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) return bad('an ISO 8601 date-time');
        return undefined;
      case 'TimeSpan':
        if (typeof v !== 'string' || !DURATION.test(v)) return bad('an ISO 8601 duration such as PT2H');
        return undefined;
      case 'Uuid':
        if (typeof v !== 'string' || !UUID.test(v)) return bad('a UUID');
        return undefined;
      case 'Enum':
        if (!type.allowedValues.includes(v)) {
          errors.push({ target: path, message: `'${v}' is not one of: ${type.allowedValues.join(', ')}` });
        }
        return undefined;
      case 'Sequence':
        if (!Array.isArray(v)) return bad('an array');
        v.forEach((item, i) => this.element(item, type.element, `${path}[${i}]`, errors));
        return undefined;
      case 'Dictionary':
        if (!isObject(v)) return bad('an object');
        for (const [k, item] of Object.entries(v)) this.element(item, type.value, joinPath(path, k), errors);
        return undefined;
      case 'Composite':
        return this.composite(v, this.mappers[type.className] || prop, path, errors);
      case 'any':
      case 'Object':
        return undefined;
      default:
        errors.push({ target: path, message: `the emulator cannot check the mapper type '${type.name}'` });
        return undefined;
    }
  }

  element(item, mapper, path, errors) {
    if (item === null && mapper.nullable !== false && mapper.type.name !== 'Composite') return;
    this.value(item, mapper, path, errors);
  }

  constraints(v, prop, path, errors) {
    const c = prop.constraints;
    if (!c) return;
    const fail = (message) => errors.push({ target: path, message });
    if (c.Pattern && !c.Pattern.test(v)) fail(`'${v}' does not match the pattern ${c.Pattern.source}`);
    if (c.MinLength !== undefined && v.length < c.MinLength) fail(`must be at least ${c.MinLength} characters`);
    if (c.MaxLength !== undefined && v.length > c.MaxLength) fail(`must be at most ${c.MaxLength} characters`);
    if (c.InclusiveMinimum !== undefined && v < c.InclusiveMinimum) fail(`must be at least ${c.InclusiveMinimum}`);
    if (c.InclusiveMaximum !== undefined && v > c.InclusiveMaximum) fail(`must be at most ${c.InclusiveMaximum}`);
    if (c.ExclusiveMinimum !== undefined && v <= c.ExclusiveMinimum) fail(`must be more than ${c.ExclusiveMinimum}`);
    if (c.ExclusiveMaximum !== undefined && v >= c.ExclusiveMaximum) fail(`must be less than ${c.ExclusiveMaximum}`);
  }
}

let shared = null;
const validator = () => (shared = shared || new Validator());

module.exports = { Validator, validator, splitName };
