// Package hearth is a federated XMPP server. The binary is cmd/hearth; this
// root package holds only repository-wide tests (deps_test.go).
package hearth
