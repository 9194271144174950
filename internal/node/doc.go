// Package node is the node role of cie: it runs at a hospital, keeps its data
// in its own store, blob folder and audit log, and takes part in the
// federation by dialling the hub's bus with the credentials the hub issued.
// It opens no port for the federation; its own HTTP listener serves its
// pages and API on the hospital network.
//
// It imports nothing of internal/hub; the two meet only in internal/fed.
package node
