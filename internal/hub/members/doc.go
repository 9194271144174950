// Package members keeps which nodes a hub user belongs to: the nodes whose data holder
// or node admin they are. The hub's access negotiation lets a user decide only on the
// datasets of their own nodes. Membership is set by `cie admin user` or, with an
// external OpenID provider, from a claim at every login.
package members
