// The HTTP methods the API's routes answer.
import { METHODS } from 'node:http';

/**
 * Every method Node's parser reads, but CONNECT (which never reaches a route): the API's routes answer
 * all of them, so an unusual one (TRACE, PROPFIND...) gets the contract's 401, 403 or 405, not 404.
 */
export const EVERY_METHOD = METHODS.filter((method) => method !== 'CONNECT');
