// Package bus is the hub↔node message bus: a NATS server with JetStream
// embedded in the hub, the credentials a node uses to reach it, and the
// connection helpers of both sides.
//
// A node opens no listening port. It dials the hub outbound (Dial) with an
// nkey user seed issued when an operator registers it (NewCredentials,
// WriteCredentials; `cie admin node add`). At connect time the hub's server
// proves the node holds the seed (signed nonce), asks an Authorizer which node
// the public key belongs to — so nodes registered while the hub runs can
// connect at once — and gives the connection the rights of that node only:
//
//   - publish on fed.NodeSubjects(node), and answer (once) requests it received;
//   - subscribe to fed.HubSubjects(node) and to its own reply inboxes,
//     fed.InboxPrefix(node)+".>";
//   - nothing else: no other node's subjects, no JetStream API, no $SYS.
//
// The bus is TLS-protected unless the hub turns it off: StartServer with a
// ServerConfig.TLS requires TLS from every TCP client, and a node whose
// credentials carry the hub's CA (Credentials.HubCA) or a tls:// URL dials
// with TLS and trusts that CA only. Package bustls makes and keeps the
// hub's own CA and server certificate.
//
// The node name always comes from the Authorizer, never from the client; a
// client whose connection name (Dial sends "node" or "node/Name") claims
// another node is refused, so a credentials file naming the wrong node fails
// at once.
//
// The right to answer is one message per request delivered. Each delivery of
// a request counts, so a node must have exactly one subscription matching any
// subject the hub sends requests on (not a wildcard beside a specific one),
// or its answer is refused. Answers longer than one message go on the node's
// own subjects.
//
// The hub itself talks on the bus through an in-process connection with full
// rights (Server.ConnectHub), authenticated with a secret generated at start
// that never leaves the process. Server.Watch reports node connections as
// they come and go, from the server's own connect/disconnect events;
// Server.DisconnectNode closes a removed node's connections.
package bus
