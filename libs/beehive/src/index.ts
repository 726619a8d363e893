/**
 * @packageDocumentation
 * KubeEdge Message model, JSON codec, resource strings and an in-process module router
 */
export {};
