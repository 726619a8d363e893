import { randomUUID } from 'node:crypto';
import {
  ACK_CONTENT,
  Group,
  KEEPALIVE_CONTENT,
  ModuleName,
  Operation,
  ResourceType,
} from './constants';

/**
 * The header of a KubeEdge message, with KubeEdge's JSON field names. Go marks every field
 * but `msg_id` and `timestamp` `omitempty`; an optional field here is one that may be absent
 * on the wire, and the codec keeps absent fields absent so a decoded message re-encodes to
 * the same JSON.
 */
export interface MessageHeader {
  /** The message's UUID. */
  msg_id: string;
  /** For a response: the `msg_id` of the request. `""` or absent otherwise. */
  parent_msg_id?: string;
  /** Creation time, milliseconds since the Unix epoch. */
  timestamp: number;
  /** resourceVersion of the Kubernetes object in `content`, used for reliable delivery. */
  resourceversion?: string;
  /** Set by `sendSync`: the sender waits for a response. */
  sync?: boolean;
  /** Beehive context type that carries the message (`channel`, `unixsocket`); rarely set. */
  type?: string;
}

/** Where a message comes from and what it is about. */
export interface MessageRoute {
  /** Module that sent the message, e.g. `edgecontroller`. */
  source?: string;
  /** Module the message is meant for; optional in KubeEdge and rarely set. */
  destination?: string;
  /** Group the receiving hub dispatches on, e.g. `resource`, `twin`, `user`. */
  group?: string;
  /** What to do, e.g. `insert`, `query`, `response` (see {@link Operation}). */
  operation: string;
  /** What it is done to: `node/<node>/<ns>/<type>/<name>` in the cloud, `<ns>/<type>/<name>` at the edge. */
  resource: string;
}

/** A KubeEdge beehive message. `content` is any JSON value, or `undefined` when absent. */
export interface Message<C = unknown> {
  header: MessageHeader;
  route: MessageRoute;
  content: C;
}

export interface CreateMessageOptions<C> {
  source: string;
  group: string;
  operation: string;
  resource: string;
  content: C;
  /** `msg_id` of the message this one answers; defaults to `""`. */
  parentId?: string;
  /** resourceVersion of the object in `content`; the field is omitted when not given. */
  resourceVersion?: string;
  /** Defaults to `false`; `router.sendSync` sets it to `true` on the copy it sends. */
  sync?: boolean;
}

/**
 * A new message with a fresh UUID and the current time. Like the KubeEdge fixtures, it always
 * carries `parent_msg_id` and `sync`, and `resourceversion` only when given.
 */
export function createMessage<C>(options: CreateMessageOptions<C>): Message<C> {
  const header: MessageHeader = {
    msg_id: randomUUID(),
    parent_msg_id: options.parentId ?? '',
    timestamp: Date.now(),
  };
  if (options.resourceVersion !== undefined) header.resourceversion = options.resourceVersion;
  header.sync = options.sync ?? false;
  return {
    header,
    route: {
      source: options.source,
      group: options.group,
      operation: options.operation,
      resource: options.resource,
    },
    content: options.content,
  };
}

export interface CreateResponseOptions<C> {
  /** The module answering. */
  source: string;
  content: C;
  /** Defaults to `response`; use `error` (Operation.Error) for an error reply. */
  operation?: string;
}

/**
 * A reply to `request`: `parent_msg_id` is the request's `msg_id`, group and resource are
 * copied from the request (as KubeEdge's `NewRespByMessage` does), operation is `response`.
 * Unlike KubeEdge, `source` is the answering module rather than the request's source, so a
 * peer can tell who answered.
 */
export function createResponse<C>(request: Message, options: CreateResponseOptions<C>): Message<C> {
  const response = createMessage({
    source: options.source,
    group: request.route.group ?? '',
    operation: options.operation ?? Operation.Response,
    resource: request.route.resource,
    content: options.content,
    parentId: request.header.msg_id,
  });
  if (request.header.type !== undefined) response.header.type = request.header.type;
  return response;
}

/**
 * The acknowledgement the edge sends once it has persisted `message`: a response with
 * content `"OK"`.
 */
export function createAck(message: Message, source: string): Message<string> {
  return createResponse(message, { source, content: ACK_CONTENT });
}

/** True when `response.header.parent_msg_id` is `request.header.msg_id`. */
export function isResponseTo(response: Message, request: Message): boolean {
  const parent = response.header.parent_msg_id;
  return parent !== undefined && parent !== '' && parent === request.header.msg_id;
}

/**
 * The heartbeat edgehub sends the cloud: group `resource`, resource `node`, operation
 * `keepalive`, content `"ping"`.
 */
export function createKeepalive(source: string = ModuleName.EdgeHub): Message<string> {
  return createMessage({
    source,
    group: Group.Resource,
    operation: Operation.Keepalive,
    resource: ResourceType.Node,
    content: KEEPALIVE_CONTENT,
  });
}
