// Package e2e holds the sync's end-to-end tests: the station's real queue
// and uplink worker against the real reference central server on
// loopback, through a fault-injecting proxy, across SIGKILLs of the
// station, and through a long offline spell. It has no code of its own;
// see the _test files and docs/sync-protocol.md.
package e2e
