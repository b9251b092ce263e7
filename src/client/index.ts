// The client side of Phase's protocol, for the coffer CLI (and anyone embedding Coffer's client).
export * from './phase-protocol.js';
export { parseReference, ReadBudget, referenceKey, referenceTexts, resolveReferences, REFERENCE_PATTERN, type ParsedReference, type ReferenceFetcher, type ResolveOptions } from './references.js';
