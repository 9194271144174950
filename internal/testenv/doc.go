// Package testenv holds helpers shared by package tests: throw-away PostgreSQL databases
// (postgres.go) and S3 buckets (s3.go) on servers named by environment variables.
//
// A helper whose server is not configured skips the test with a message saying how to
// start one, except in CI (env CI=true) or when CIE_TEST_REQUIRE_ALL=1, where it fails the
// test: a missing server must never pass silently. A configured server that cannot be
// reached always fails the test.
//
// Only test code imports this package.
package testenv
