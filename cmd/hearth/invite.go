package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"hearth/config"
	"hearth/jid"
	"hearth/mod/invite"
	"hearth/server"
)

// cmdInvite creates an invitation and prints its links:
//
//	hearth invite [-c FILE] [--host DOMAIN] [--from JID] [--uses N] [--expires 7d] [--admin]
func cmdInvite(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "configuration `FILE`")
	host := fs.String("host", "", "the host to invite to (default: the first of hosts)")
	from := fs.String("from", "", "inviter `JID`: the new account and the inviter get each other as contacts")
	uses := fs.Int("uses", 1, "how many accounts the invitation can create")
	expires := fs.String("expires", "7d", "validity, e.g. 7d, 12h")
	admin := fs.Bool("admin", false, "the new account becomes an administrator")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("invite: unexpected argument %q", fs.Arg(0))}
	}
	var expiry config.Duration
	if err := expiry.UnmarshalText([]byte(*expires)); err != nil || expiry <= 0 {
		return usageError{fmt.Errorf("invite: --expires %q: want e.g. 7d or 12h", *expires)}
	}
	if *uses < 1 {
		return usageError{errors.New("invite: --uses must be at least 1")}
	}
	f := &flags{config: *cfgPath}
	cfg, st, err := openStore(f)
	if err != nil {
		return err
	}
	defer st.Close()
	domain := cfg.Hosts[0]
	if *host != "" {
		if !slices.Contains(cfg.Hosts, *host) {
			return usageError{fmt.Errorf("invite: %s is not one of the hosts", *host)}
		}
		domain = *host
	}
	var inviter jid.JID
	if *from != "" {
		if inviter, err = jid.Parse(*from); err != nil || inviter.Local() == "" || inviter.Domain() != domain {
			return usageError{fmt.Errorf("invite: --from %q is not an account of %s", *from, domain)}
		}
		if _, err := st.Accounts().Get(context.Background(), domain, inviter.Local()); err != nil {
			return fmt.Errorf("invite: --from %s: %w", inviter, err)
		}
	}
	var icfg invite.Config
	if dec := cfg.Section("invites"); dec != nil {
		if err := dec(&icfg); err != nil {
			return &server.ConfigError{Err: fmt.Errorf("[invites]: %w", err)}
		}
	}
	mode := struct {
		Mode string `toml:"mode"`
	}{Mode: "closed"}
	if dec := cfg.Section("registration"); dec != nil {
		dec(&mode)
	}
	inv, err := invite.Create(context.Background(), st.Map(invite.MapName), domain, invite.Options{
		Inviter: inviter, Uses: *uses, Expiry: time.Duration(expiry), Admin: *admin,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Invitation to %s, valid until %s for %d account(s)%s.\n\n", domain, inv.Expires.Format("2006-01-02 15:04 MST"), inv.Uses, map[bool]string{true: ", as administrator"}[*admin])
	fmt.Fprintf(stdout, "  web page:  %s\n", inv.LandingURL(icfg.WebBase))
	fmt.Fprintf(stdout, "  app link:  %s\n", inv.RegisterURI())
	if u := inv.RosterURI(); u != "" {
		fmt.Fprintf(stdout, "  existing XMPP users add %s with: %s\n", inviter, u)
	}
	if mode.Mode != "invite" {
		fmt.Fprintf(stdout, "\nNote: [registration] mode is %q, not \"invite\": the invitation cannot be used until you set mode = \"invite\".\n", mode.Mode)
	}
	return nil
}
