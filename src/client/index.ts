// The client side of Phase's protocol, for the coffer CLI (and anyone embedding Coffer's client).
export * from './phase-protocol.js';
export { parseReference, referenceKey, referenceTexts, resolveReferences, REFERENCE_PATTERN, type ParsedReference, type ReferenceFetcher } from './references.js';
