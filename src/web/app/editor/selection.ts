export type Selection = { kind: 'page' } | { kind: 'panel'; id: string } | { kind: 'bubble'; id: string };
