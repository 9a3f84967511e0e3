package hearth_test

import (
	"go/build"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// allowedImports lists, for each package of hearth, the hearth packages it
// may import (docs/ARCHITECTURE.md). The test fails when a package grows an
// import outside its list: the fix is almost never to relax the list.
var allowedImports = map[string][]string{
	"jid":                      {},
	"sasl":                     {},
	"stanza":                   {"jid"},
	"storage":                  {"sasl"},
	"storage/memstore":         {"storage", "sasl"},
	"storage/sqlstore":         {"storage", "sasl"},
	"storage/storagetest":      {"storage", "sasl"},
	"storage/sqlstore/sqltest": {},
	"client":                   {"jid", "stanza"},
	"compliance":               {"client", "jid", "stanza"},
	"cmd/hearth-bench":         {"client", "jid", "stanza"},
	"stream":                   {"jid", "stanza", "sasl", "internal/rate"},
	"module":                   {"jid", "stanza", "storage", "sasl"},
	"router":                   {"jid", "stanza", "stream", "module", "storage", "sasl"},
	"config":                   {},
	"httpd":                    {},
	// turn is the built-in STUN/TURN server over pion; the server hands it
	// its settings and certificates.
	"turn":      {},
	"webstream": {"stanza"},
	// s2s knows the router only through its own small Router interface.
	"s2s":           {"jid", "stanza", "internal/rate"},
	"internal/rate": {},
	// heapgoal is the process's garbage collector policy; the server
	// applies it for hearth serve (docs/memory.md).
	"internal/heapgoal": {},
	"certs":             {"config"},
	"certs/acmetest":    {},
	// dump reads and writes per-user data through the exported API of the
	// modules that own it (mod/roster, which takes a module.Host; mod/vcard,
	// mod/private and mod/pep, which take the store).
	"dump": {"jid", "stanza", "sasl", "storage", "module", "mod/roster", "mod/vcard", "mod/private", "mod/pep", "mod/mam", "mod/offline"},
	// mod/* may import module, stanza, jid, storage, sasl, the helpers in
	// mod/internal and the modules they declare in Requires (checked below
	// by modRequires).
	"server":   {"*", "!cmd/hearth", "!xmpptest"},
	"xmpptest": {"*", "!cmd/hearth"},
}

// modRequires lists the other modules a mod/* package may import.
var modRequires = map[string][]string{
	"mod/presence": {"mod/roster"},
	"mod/last":     {"mod/roster"},
	"mod/blocking": {"mod/roster"},
	"mod/mam":      {"mod/roster"},
	"mod/muc":      {},
	"mod/pep":      {"mod/roster"},
	"mod/private":  {"mod/pep"},
	"mod/vcard":    {"mod/pep"},
	"mod/invite":   {"mod/roster"},
	// register redeems invitations through mod/invite's Service (mode
	// "invite"), checked at start.
	"mod/register": {"mod/invite"},
	// disco answers the XEP-0050 commands node from the registry's command
	// table with adhoc's helpers; it needs no adhoc module at run time.
	"mod/disco": {"mod/adhoc"},
}

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const prefix = "hearth/"
	for _, path := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(path, prefix)
		if path == "hearth" || rel == "cmd/hearth" {
			continue
		}
		pkg, err := build.Import(path, ".", 0)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		for _, imp := range pkg.Imports {
			if !strings.HasPrefix(imp, prefix) {
				continue
			}
			dep := strings.TrimPrefix(imp, prefix)
			if !allowed(rel, dep) {
				t.Errorf("%s imports %s, which docs/ARCHITECTURE.md does not allow", rel, dep)
			}
		}
	}
}

func allowed(pkg, dep string) bool {
	if strings.HasPrefix(pkg, "mod/") {
		switch dep {
		case "module", "stanza", "jid", "storage", "sasl", "mod/internal/keylock", "mod/internal/online":
			return true
		}
		return slices.Contains(modRequires[pkg], dep)
	}
	if pkg == "mod" {
		return strings.HasPrefix(dep, "mod/") || dep == "module"
	}
	rules, ok := allowedImports[pkg]
	if !ok {
		return false // a new package must be added to the table
	}
	if slices.Contains(rules, "!"+dep) {
		return false
	}
	return slices.Contains(rules, "*") || slices.Contains(rules, dep)
}
