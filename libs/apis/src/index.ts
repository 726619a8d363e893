/**
 * @packageDocumentation
 * TypeBox schemas, TS types, validation and CRD YAML for KubeEdge and OpenKruise APIs
 */
export {};
