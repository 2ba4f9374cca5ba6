/**
 * The REST API's shapes, as TypeBox schemas: fastify validates requests and
 * serialises responses with them, and @fastify/swagger turns them into the
 * OpenAPI document at /openapi.json.
 */
import { Type, type Static } from '@sinclair/typebox';

const Address = Type.String({ description: 'an IPv4 or IPv6 address' });

export const Tunnel = Type.Object({
  format: Type.Union([Type.Literal('ip6'), Type.Literal('ip4'), Type.Literal('udp4'), Type.Literal('udp4-tlv')]),
  local: Address,
  remote: Address,
  localPort: Type.Optional(Type.Integer()),
  remotePort: Type.Optional(Type.Integer()),
});

export const Binding = Type.Object({
  nai: Type.String(),
  bindingId: Type.Integer(),
  homeAddress: Address,
  ipv4HomeAddress: Type.Optional(Address),
  careOf: Address,
  natDetected: Type.Boolean(),
  tunnel: Tunnel,
  tunnelled: Type.Array(Type.String(), { description: 'home addresses and prefixes the data plane tunnels for this node' }),
  sequence: Type.Integer(),
  lifetime: Type.Integer({ description: 'seconds granted' }),
  expiresIn: Type.Integer({ description: 'seconds left' }),
});
export type Binding = Static<typeof Binding>;

export const Counters = Type.Object({
  encapPackets: Type.Number(), encapBytes: Type.Number(), decapPackets: Type.Number(), decapBytes: Type.Number(),
}, { description: 'from the data plane, summed over CPUs; encap is towards the node' });

export const BindingWithCounters = Type.Composite([Binding, Type.Object({ counters: Counters })]);

export const BindingQuery = Type.Object({
  nai: Type.Optional(Type.String()),
  homeAddress: Type.Optional(Address),
  careOf: Type.Optional(Address),
  nat: Type.Optional(Type.Boolean()),
});
export type BindingQuery = Static<typeof BindingQuery>;

export const NaiParams = Type.Object({ nai: Type.String({ minLength: 1 }) });

const Ipv4Source = Type.Union([Address, Type.Object({ pool: Type.String() }, { additionalProperties: false })]);

export const ProfileBody = Type.Object({
  nai: Type.String({ minLength: 1 }),
  key: Type.String({ pattern: '^([0-9a-fA-F]{2})+$', description: 'MN-HA shared key, hex; never returned' }),
  spi: Type.Integer({ minimum: 256, maximum: 4294967295 }),
  homeAddress: Address,
  ipv4HomeAddress: Type.Optional(Ipv4Source),
  prefixes: Type.Optional(Type.Array(Type.String())),
  mobileRouter: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
export type ProfileBody = Static<typeof ProfileBody>;

export const Profile = Type.Object({
  nai: Type.String(),
  spi: Type.Integer(),
  homeAddress: Address,
  ipv4HomeAddress: Type.Optional(Ipv4Source),
  prefixes: Type.Optional(Type.Array(Type.String())),
  mobileRouter: Type.Optional(Type.Boolean()),
});

export const Stats = Type.Object({
  bindings: Type.Object({ total: Type.Integer(), natted: Type.Integer(), byFormat: Type.Record(Type.String(), Type.Integer()) }),
  answered: Type.Record(Type.String(), Type.Integer(), { description: 'BAs sent by status; "discarded": BUs dropped unanswered' }),
  dataPlane: Type.Object({ drops: Type.Record(Type.String(), Type.Number()), events: Type.Record(Type.String(), Type.Number()) }),
});

export const ApiError = Type.Object({ error: Type.String(), field: Type.Optional(Type.String()), message: Type.String() });
