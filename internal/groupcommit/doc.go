// Package groupcommit shares one expensive flush (an fsync, a database commit) among the
// callers that need it at about the same time.
//
// A [Committer] wraps a flush function. Wait returns once a run of the flush that started
// after Wait was called has ended, so everything the caller wrote before calling Wait is
// covered by it. While a run is under way, later callers queue for the next run, and that
// one run serves all of them: with one caller at a time the flush runs once per call, with
// many it runs far less often than it is waited for. This is the group commit of database
// logs, applied to files.
package groupcommit
