package dump

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"hearth/jid"
	"hearth/sasl"
	"hearth/stanza"
	"hearth/storage"
)

// Importer stores the users of dumps.
type Importer struct {
	Store    storage.Store
	Sections []Section // usually Sections()
	// Replace makes Import replace an existing account as a whole: its
	// data is deleted (as hearth deluser does) and the dump's stored.
	// Without it an existing account is left alone and reported.
	Replace bool
	// Iterations is the SCRAM iteration count for credentials derived
	// from plaintext passwords (sasl.DefaultIterations when <= 0).
	Iterations int
}

// Outcome says what Import did with a user.
type Outcome int

// Outcomes of Import.
const (
	Created  Outcome = iota // a new account
	Replaced                // an existing account, replaced (Importer.Replace)
	Skipped                 // an existing account, left alone
)

func (o Outcome) String() string {
	switch o {
	case Created:
		return "created"
	case Replaced:
		return "replaced"
	}
	return "skipped (exists)"
}

// Result is what Import did with one user.
type Result struct {
	JID     jid.JID
	Outcome Outcome
	// Warnings are what was not imported: child elements no section
	// takes (XEP-0227 asks importers to tell the operator), credentials
	// hearth does not store, an account left without usable credentials.
	Warnings []string
}

// Import creates the account of u with its credentials and data. An
// account that exists is skipped (Outcome Skipped, no error) unless
// Replace is set. The error is non-nil when u is malformed (bad JID parts,
// bad password) or storing failed; a failure while storing the data of a
// created account leaves the account and the data stored so far.
func (im *Importer) Import(ctx context.Context, u User) (Result, error) {
	user, err := jid.New(u.Name, u.Host, "")
	if err != nil {
		return Result{}, fmt.Errorf("dump: user %q of host %q: %w", u.Name, u.Host, err)
	}
	res := Result{JID: user}
	cred := u.Credentials
	if u.Password != "" {
		// The password gives both hashes, with this server's salts and
		// iteration count; it wins over keys given alongside it.
		if cred, err = sasl.NewCredentials(u.Password, im.Iterations); err != nil {
			return res, fmt.Errorf("dump: %s: %w", user, err)
		}
	}
	accounts := im.Store.Accounts()
	_, err = accounts.Get(ctx, user.Domain(), user.Local())
	switch {
	case err == nil && !im.Replace:
		res.Outcome = Skipped
		return res, nil
	case err == nil:
		res.Outcome = Replaced
		if err := accounts.Delete(ctx, user.Domain(), user.Local()); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return res, err
		}
		if err := im.Store.DeleteOwner(ctx, user.String()); err != nil {
			return res, err
		}
	case !errors.Is(err, storage.ErrNotFound):
		return res, err
	}
	if err := accounts.Create(ctx, user.Domain(), user.Local(), cred); err != nil {
		if errors.Is(err, storage.ErrExists) { // created meanwhile
			res.Outcome = Skipped
			return res, nil
		}
		return res, err
	}
	if len(cred.SHA1.StoredKey) == 0 && len(cred.SHA256.StoredKey) == 0 {
		res.Warnings = append(res.Warnings, "no password or usable SCRAM credentials: set one with hearth passwd")
	} else if len(cred.SHA256.StoredKey) == 0 {
		res.Warnings = append(res.Warnings, "SCRAM-SHA-1 credentials only: SCRAM-SHA-256 logins fail until the password is set again")
	}
	for _, s := range im.Sections {
		var els []*stanza.Element
		for _, el := range u.Data {
			if s.takes(el.Name) {
				els = append(els, el)
			}
		}
		if len(els) == 0 {
			continue
		}
		if err := s.Import(ctx, im.Store, user, els); err != nil {
			return res, fmt.Errorf("dump: %s of %s: %w", s.Name, user, err)
		}
	}
	for _, s := range u.Skipped {
		res.Warnings = append(res.Warnings, s+": not imported")
	}
	for _, el := range u.Data {
		switch {
		case slices.ContainsFunc(im.Sections, func(s Section) bool { return s.takes(el.Name) }):
		case el.Name.Space == NSSCRAM:
			res.Warnings = append(res.Warnings, fmt.Sprintf("ignored %s credentials: hearth stores %s and %s only",
				el.Get("mechanism"), mechSHA1, mechSHA256))
		default:
			res.Warnings = append(res.Warnings, fmt.Sprintf("ignored <%s xmlns='%s'/>: not supported", el.Name.Local, el.Name.Space))
		}
	}
	return res, nil
}
