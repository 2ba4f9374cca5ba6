/**
 * The BTF of a compiled BPF object, read with bpftool: struct layouts (to
 * check ours against) and the names of counter fields (to label them).
 */
import { execFileSync } from 'node:child_process';

interface BtfMember { name: string; type_id: number; bits_offset: number }
interface BtfType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: BtfMember[];
}

export interface BtfField { name: string; offset: number; size: number }
export interface BtfStruct { name: string; size: number; fields: BtfField[] }

export class Btf {
  private readonly byId = new Map<number, BtfType>();

  constructor(objectPath: string) {
    const json = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', objectPath], { encoding: 'utf8' });
    for (const t of (JSON.parse(json) as { types: BtfType[] }).types) this.byId.set(t.id, t);
  }

  private sizeOf(id: number): number {
    const t = this.byId.get(id);
    if (!t) throw new Error(`BTF type ${id} missing`);
    switch (t.kind) {
      case 'INT': case 'FLOAT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64':
        return t.size ?? 0;
      case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
        return this.sizeOf(t.type_id!);
      case 'ARRAY':
        return this.sizeOf(t.type_id!) * (t.nr_elems ?? 0);
      case 'PTR':
        return 8;
    }
    throw new Error(`BTF type ${id}: no size for kind ${t.kind}`);
  }

  /** A struct or union by name, with each member's byte offset and size. */
  struct(name: string): BtfStruct {
    const t = [...this.byId.values()].find((x) => (x.kind === 'STRUCT' || x.kind === 'UNION') && x.name === name);
    if (!t) throw new Error(`BTF: no struct ${name}`);
    return {
      name,
      size: t.size ?? 0,
      fields: (t.members ?? []).map((m) => ({ name: m.name, offset: m.bits_offset / 8, size: this.sizeOf(m.type_id) })),
    };
  }

  /** Names of a struct's fields, in order (the counter structs: one u64 per name). */
  fieldNames(name: string): string[] {
    return this.struct(name).fields.map((f) => f.name);
  }
}
